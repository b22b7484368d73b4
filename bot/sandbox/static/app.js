// The sandbox page: a small Discord-like client for the storefront's /sandbox/api/.
// Plain DOM, no framework. Message text is only ever set through textContent.
"use strict";

(() => {
  const API = "/sandbox/api";
  const POLL_MS = 1000;
  const AUTOCOMPLETE_DELAY_MS = 200;
  const OPTION = { SUB: 1, GROUP: 2, STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6, NUMBER: 10 };
  const BUTTON_CLASS = { 1: "btn-primary", 2: "btn-secondary", 3: "btn-success", 4: "btn-danger" };

  const $ = (id) => document.getElementById(id);
  const ui = {
    guildList: $("guild-list"),
    guildName: $("guild-name"),
    shopSummary: $("shop-summary"),
    channels: $("channel-list"),
    dmButton: $("dm-button"),
    title: $("view-title"),
    memberSelect: $("member-select"),
    roles: $("role-list"),
    messages: $("messages"),
    intro: $("view-intro"),
    list: $("message-list"),
    bar: $("command-bar"),
    input: $("command-input"),
    suggestions: $("command-suggestions"),
    options: $("command-options"),
    error: $("command-error"),
    modal: $("modal"),
    modalForm: $("modal-form"),
    modalTitle: $("modal-title"),
    modalFields: $("modal-fields"),
    modalError: $("modal-error"),
    modalCancel: $("modal-cancel"),
    clockNow: $("clock-now"),
    clockStatus: $("clock-status"),
    skipButtons: Array.from(document.querySelectorAll("[data-skip-days]")),
  };

  const app = {
    state: null, // the last GET /state
    guild: null, // id of the guild on show (each guild is its own shop)
    member: null, // id of the member we act as
    view: null, // {kind: "channel", id} or {kind: "dms"}
    chosen: null, // {command, path, leaf, label} picked in the command bar
    modalId: null,
    signatures: { guilds: "", members: "", channels: "", roles: "" },
    pollTimer: null,
    refreshing: null,
    offlineError: null, // the refresh error on show, cleared when the sandbox answers again
    skipping: false, // a POST /clock is under way
  };

  // ---- HTTP --------------------------------------------------------------------------------

  class ApiError extends Error {}

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (err) {
      throw new ApiError("The sandbox is not answering. Is `storefront run` still running?");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const message = data && typeof data.error === "string" ? data.error : "";
      throw new ApiError(message || `The sandbox answered ${response.status}.`);
    }
    return data || {};
  }

  // ---- small DOM helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeUrl(url) {
    // Only web addresses (absolute or on this server) become links or images.
    if (typeof url !== "string" || !url) return null;
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  function colourHex(value) {
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return null;
    return "#" + (value & 0xffffff).toString(16).padStart(6, "0");
  }

  function members() {
    return app.state ? app.state.members : [];
  }

  function currentMember() {
    return members().find((m) => m.id === app.member) || null;
  }

  function nameOf(userId) {
    const member = members().find((m) => m.id === userId);
    if (member) return member.name;
    if (app.state && app.state.bot && app.state.bot.id === userId) return app.state.bot.name;
    return null;
  }

  function roleName(roleId) {
    for (const member of members()) {
      const role = (member.roles || []).find((r) => r.id === roleId);
      if (role) return role.name;
    }
    return null;
  }

  function channelName(channelId) {
    const channel = ((app.state && app.state.channels) || []).find((c) => c.id === channelId);
    return channel ? channel.name : null;
  }

  // ---- Discord markdown (a small, safe subset) ---------------------------------------------

  const ESCAPABLE = "\\*_`~|>#-.:!<@[]()";

  function findClose(text, delim, from) {
    for (let j = from; j < text.length; j++) {
      if (text[j] === "\\") {
        j++;
        continue;
      }
      if (text.startsWith(delim, j) && j > from) {
        if (delim === "*" && text[j + 1] === "*") {
          j++;
          continue;
        }
        return j;
      }
    }
    return -1;
  }

  function formatTimestamp(seconds, style) {
    const date = new Date(seconds * 1000);
    const options = {
      t: { timeStyle: "short" },
      T: { timeStyle: "medium" },
      d: { dateStyle: "short" },
      D: { dateStyle: "long" },
      f: { dateStyle: "long", timeStyle: "short" },
      F: { dateStyle: "full", timeStyle: "short" },
    };
    if (style === "R") {
      const diff = Math.round((date.getTime() - sandboxNow()) / 1000);
      const units = [
        ["year", 31536000],
        ["month", 2592000],
        ["day", 86400],
        ["hour", 3600],
        ["minute", 60],
        ["second", 1],
      ];
      const [unit, size] = units.find(([, s]) => Math.abs(diff) >= s) || ["second", 1];
      return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(
        Math.round(diff / size),
        unit
      );
    }
    return date.toLocaleString(undefined, options[style] || options.f);
  }

  // The sandbox's clock runs ahead of real time once skipped: "in 3 days" counts from it.
  function sandboxNow() {
    const ahead = (app.state && app.state.clock && app.state.clock.ahead_seconds) || 0;
    return Date.now() + ahead * 1000;
  }

  function pill(text, kind) {
    return el("span", { class: `mention mention-${kind}`, text });
  }

  function markdown(text) {
    const fragment = document.createDocumentFragment();
    renderInline(String(text || ""), fragment);
    return fragment;
  }

  function renderInline(text, into) {
    let buffer = "";
    const flush = () => {
      if (buffer) into.append(document.createTextNode(buffer));
      buffer = "";
    };
    const wrap = (tag, cls, inner) => {
      flush();
      const node = el(tag, cls ? { class: cls } : {});
      renderInline(inner, node);
      into.append(node);
    };
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      const rest = text.slice(i);
      if (c === "\\" && i + 1 < text.length && ESCAPABLE.includes(text[i + 1])) {
        buffer += text[i + 1];
        i += 2;
        continue;
      }
      if (c === "\n") {
        flush();
        into.append(el("br"));
        i += 1;
        continue;
      }
      if (c === "`") {
        const fence = rest.startsWith("```") ? "```" : "`";
        const end = text.indexOf(fence, i + fence.length);
        if (end > i + fence.length - 1) {
          flush();
          let code = text.slice(i + fence.length, end);
          if (fence === "```") code = code.replace(/^[a-z0-9]*\n/i, "");
          into.append(el(fence === "```" ? "pre" : "code", { class: "md-code", text: code }));
          i = end + fence.length;
          continue;
        }
      }
      let matched = false;
      for (const [delim, tag, cls] of [
        ["**", "strong", null],
        ["__", "span", "md-underline"],
        ["~~", "s", null],
        ["||", "span", "md-spoiler"],
        ["*", "em", null],
        ["_", "em", null],
      ]) {
        if (!rest.startsWith(delim)) continue;
        const end = findClose(text, delim, i + delim.length);
        if (end > i + delim.length) {
          wrap(tag, cls, text.slice(i + delim.length, end));
          i = end + delim.length;
          matched = true;
        }
        break;
      }
      if (matched) continue;
      if (c === "<") {
        let m = /^<@!?(\d+)>/.exec(rest);
        if (m) {
          flush();
          into.append(pill("@" + (nameOf(m[1]) || "unknown-user"), "user"));
          i += m[0].length;
          continue;
        }
        m = /^<@&(\d+)>/.exec(rest);
        if (m) {
          flush();
          into.append(pill("@" + (roleName(m[1]) || "unknown-role"), "role"));
          i += m[0].length;
          continue;
        }
        m = /^<#(\d+)>/.exec(rest);
        if (m) {
          flush();
          into.append(pill("#" + (channelName(m[1]) || "unknown-channel"), "channel"));
          i += m[0].length;
          continue;
        }
        m = /^<t:(-?\d+)(?::([tTdDfFR]))?>/.exec(rest);
        if (m) {
          flush();
          const seconds = Number(m[1]);
          const iso = new Date(seconds * 1000).toISOString();
          into.append(
            el("time", {
              class: "md-time",
              datetime: iso,
              title: formatTimestamp(seconds, "F"),
              text: formatTimestamp(seconds, m[2] || "f"),
            })
          );
          i += m[0].length;
          continue;
        }
      }
      if (c === "[") {
        const m = /^\[([^\]\n]+)\]\(<?(https?:\/\/[^\s)>]+)>?\)/.exec(rest);
        if (m && safeUrl(m[2])) {
          flush();
          into.append(
            el("a", { href: safeUrl(m[2]), target: "_blank", rel: "noopener noreferrer", text: m[1] })
          );
          i += m[0].length;
          continue;
        }
      }
      buffer += c;
      i += 1;
    }
    flush();
  }

  // ---- messages ----------------------------------------------------------------------------

  function renderEmbed(embed) {
    const colour = colourHex(embed.color);
    const box = el("article", { class: "embed" });
    if (colour) box.style.borderLeftColor = colour;
    const body = el("div", { class: "embed-body" });
    if (embed.author && embed.author.name) {
      body.append(el("div", { class: "embed-author", text: embed.author.name }));
    }
    if (embed.title) {
      const title = el("h3", { class: "embed-title" });
      const href = safeUrl(embed.url);
      if (href) {
        const link = el("a", { href, target: "_blank", rel: "noopener noreferrer" });
        link.append(markdown(embed.title));
        title.append(link);
      } else {
        title.append(markdown(embed.title));
      }
      body.append(title);
    }
    if (embed.description) {
      const description = el("div", { class: "embed-description" });
      description.append(markdown(embed.description));
      body.append(description);
    }
    const fields = embed.fields || [];
    if (fields.length) {
      const grid = el("dl", { class: "embed-fields" });
      for (const field of fields) {
        const wrapper = el("div", { class: field.inline ? "embed-field inline" : "embed-field" });
        const name = el("dt", { class: "embed-field-name" });
        name.append(markdown(field.name));
        const value = el("dd", { class: "embed-field-value" });
        value.append(markdown(field.value));
        wrapper.append(name, value);
        grid.append(wrapper);
      }
      body.append(grid);
    }
    const image = embed.image && safeUrl(embed.image.url);
    if (image) body.append(el("img", { class: "embed-image", src: image, alt: "" }));
    if (embed.footer && embed.footer.text) {
      const footer = el("footer", { class: "embed-footer" });
      footer.append(markdown(embed.footer.text));
      body.append(footer);
    }
    box.append(body);
    const thumbnail = embed.thumbnail && safeUrl(embed.thumbnail.url);
    if (thumbnail) {
      box.append(el("img", { class: "embed-thumbnail", src: thumbnail, alt: "" }));
    }
    return box;
  }

  function renderButton(message, component) {
    const label = [component.emoji && component.emoji.name, component.label]
      .filter(Boolean)
      .join(" ");
    if (component.style === 5) {
      const href = safeUrl(component.url);
      if (component.disabled || !href) {
        return el("span", {
          class: "btn btn-secondary btn-link is-disabled",
          role: "link",
          "aria-disabled": "true",
          text: label,
        });
      }
      const link = el("a", {
        class: "btn btn-secondary btn-link",
        href,
        target: "_blank",
        rel: "noopener",
        text: label,
      });
      link.append(el("span", { class: "external", "aria-hidden": "true", text: " ↗" }));
      return link;
    }
    return el("button", {
      type: "button",
      class: `btn ${BUTTON_CLASS[component.style] || "btn-secondary"}`,
      disabled: Boolean(component.disabled),
      dataset: { customId: component.custom_id || "" },
      text: label || "\u00a0",
      onclick: (event) => pressComponent(message, component, [], event.currentTarget),
    });
  }

  function renderSelect(message, component) {
    const placeholder = component.placeholder || (component.type === 5 ? "Choose a member…" : "Choose…");
    const select = el("select", {
      class: "component-select",
      "aria-label": placeholder,
      disabled: Boolean(component.disabled),
      dataset: { customId: component.custom_id || "" },
    });
    // An option marked default shows as chosen (the kind picker's current kind), as in Discord.
    const chosen = component.type === 3 ? (component.options || []).find((o) => o.default) : null;
    select.dataset.defaultValue = chosen ? chosen.value : "";
    select.append(el("option", { value: "", disabled: true, selected: !chosen, text: placeholder }));
    if (component.type === 3) {
      for (const option of component.options || []) {
        const text = [option.emoji && option.emoji.name, option.label].filter(Boolean).join(" ");
        const extra = option.description ? ` — ${option.description}` : "";
        select.append(
          el("option", { value: option.value, selected: option === chosen, text: text + extra })
        );
      }
    } else {
      for (const member of members()) {
        select.append(el("option", { value: member.id, text: member.name }));
      }
    }
    select.addEventListener("change", () => {
      if (!select.value || select.value === select.dataset.defaultValue) return;
      pressComponent(message, component, [select.value], select);
    });
    return select;
  }

  function renderComponents(message) {
    const rows = el("div", { class: "components" });
    for (const row of message.components || []) {
      const line = el("div", { class: "component-row" });
      for (const component of row.components || [row]) {
        if (component.type === 2) line.append(renderButton(message, component));
        else if (component.type === 3 || component.type === 5) {
          line.append(renderSelect(message, component));
        }
      }
      rows.append(line);
    }
    return rows;
  }

  function initials(name) {
    return (name || "?").trim().charAt(0).toUpperCase() || "?";
  }

  function avatarColour(id) {
    let hash = 0;
    for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    const palette = ["#5865f2", "#3ba55d", "#c2410c", "#a21caf", "#0e7490", "#b45309"];
    return palette[hash % palette.length];
  }

  function renderMessage(message) {
    const author = message.author || {};
    const item = el("li", {
      class: "message" + (message.ephemeral ? " ephemeral" : ""),
      dataset: { id: message.id },
    });
    const avatar = el("div", { class: "avatar", "aria-hidden": "true", text: initials(author.name) });
    avatar.style.backgroundColor = avatarColour(author.id);
    const body = el("div", { class: "message-body" });
    const header = el("div", { class: "message-header" });
    header.append(el("span", { class: "author", text: author.name || "unknown" }));
    if (author.bot) header.append(el("span", { class: "bot-tag", text: "APP" }));
    if (message.timestamp) {
      const when = new Date(message.timestamp);
      if (!Number.isNaN(when.getTime())) {
        header.append(
          el("time", {
            class: "message-time",
            datetime: message.timestamp,
            title: when.toLocaleString(),
            text: when.toLocaleTimeString(undefined, { timeStyle: "short" }),
          })
        );
      }
    }
    body.append(header);
    if (message.loading) {
      const botName = (app.state && app.state.bot && app.state.bot.name) || author.name || "The bot";
      body.append(el("p", { class: "thinking", text: `${botName} is thinking…` }));
    }
    if (message.content) {
      const content = el("div", { class: "message-content" });
      content.append(markdown(message.content));
      if (message.edited) content.append(el("span", { class: "edited", text: " (edited)" }));
      body.append(content);
    }
    for (const embed of message.embeds || []) body.append(renderEmbed(embed));
    if ((message.components || []).length) body.append(renderComponents(message));
    if (message.ephemeral) {
      body.append(
        el(
          "p",
          { class: "ephemeral-note" },
          el("span", { "aria-hidden": "true", text: "👁 " }),
          "Only you can see this"
        )
      );
    }
    item.append(avatar, body);
    return item;
  }

  function messageSignature(message) {
    // Mentions render with member names, so a rename redraws too.
    return JSON.stringify(message) + app.signatures.members;
  }

  const drawn = new WeakMap(); // message node → what it was drawn from

  function showMessages(messages) {
    const list = ui.list;
    const nearBottom =
      ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80;
    const existing = new Map();
    for (const node of list.children) existing.set(node.dataset.id, node);
    const wanted = new Set(messages.map((m) => m.id));
    for (const [id, node] of existing) {
      if (!wanted.has(id)) node.remove();
    }
    let added = false;
    let previous = null;
    for (const message of messages) {
      const signature = messageSignature(message);
      let node = existing.get(message.id);
      if (!node || drawn.get(node) !== signature) {
        const fresh = renderMessage(message);
        drawn.set(fresh, signature);
        if (node) {
          replaceKeepingFocus(node, fresh);
        } else {
          added = true;
        }
        node = fresh;
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (expected !== node) list.insertBefore(node, expected);
      previous = node;
    }
    ui.intro.hidden = messages.length > 0;
    if (added && nearBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  const CONTROLS = ".components button, .components select, .components a";

  function controlSpot(control) {
    // Where a control sits in its message: its custom_id, and its place among the controls,
    // since a ◀ ▶ press changes the very custom_id that was pressed.
    const node = control && control.closest("li.message");
    if (!node) return null;
    return {
      messageId: node.dataset.id,
      customId: control.dataset.customId || "",
      index: [...node.querySelectorAll(CONTROLS)].indexOf(control),
    };
  }

  function focusSpot(node, spot) {
    // The same control if it is still there, else the one in its place, else the nearest
    // enabled control in its row (Next ▶ is disabled on the last page: focus ◀ Previous).
    if (!node || !spot) return;
    const controls = [...node.querySelectorAll(CONTROLS)];
    const usable = (c) => c && !c.disabled && c.getAttribute("aria-disabled") !== "true";
    let target = spot.customId
      ? controls.find((c) => c.dataset.customId === spot.customId && usable(c))
      : null;
    const inPlace = controls[spot.index];
    if (!target && usable(inPlace)) target = inPlace;
    if (!target && inPlace) {
      const row = [...inPlace.closest(".component-row").querySelectorAll("button, select, a")];
      const at = row.indexOf(inPlace);
      const byDistance = row
        .map((c, i) => [Math.abs(i - at), c])
        .filter(([, c]) => usable(c))
        .sort((a, b) => a[0] - b[0]);
      if (byDistance.length) target = byDistance[0][1];
    }
    if (target) target.focus();
  }

  function replaceKeepingFocus(old, fresh) {
    const focused = document.activeElement;
    const spot = focused && old.contains(focused) ? controlSpot(focused) : null;
    old.replaceWith(fresh);
    if (spot) focusSpot(fresh, spot);
  }

  function focusLost() {
    const active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  async function pressComponent(message, component, values, control) {
    clearError();
    // Disabling the pressed control drops its focus; it comes back to the same spot after.
    const spot = control && document.activeElement === control ? controlSpot(control) : null;
    if (control) control.disabled = true;
    try {
      const body = { member: app.member, message_id: message.id, custom_id: component.custom_id };
      if (component.type === 3 || component.type === 5) body.values = values;
      const data = await api("POST", "/components", body);
      await handleResult(data.result);
    } catch (err) {
      showError(err.message);
    } finally {
      if (control && control.isConnected) {
        control.disabled = Boolean(component.disabled);
        if (control.tagName === "SELECT") control.value = control.dataset.defaultValue || "";
      }
      if (spot && focusLost()) {
        const node = [...ui.list.children].find((n) => n.dataset.id === spot.messageId);
        focusSpot(node, spot);
      }
    }
  }

  async function handleResult(result) {
    if (!result) return;
    if (result.problems && result.problems.length) showError(result.problems.join(" "));
    else if (result.ok === false) showError("The bot did not answer that.");
    if (result.modal) openModal(result.modal);
    const message = result.message;
    if (message && message.channel_id && !message.ephemeral) {
      // A public answer goes where it was posted.
      if (app.view.kind === "channel" && app.view.id !== message.channel_id) {
        if (channelName(message.channel_id)) setView({ kind: "channel", id: message.channel_id });
      }
    } else if (message && message.channel_id && app.view.kind === "dms") {
      if (channelName(message.channel_id)) setView({ kind: "channel", id: message.channel_id });
    }
    await refresh({ scroll: true });
  }

  // ---- error line --------------------------------------------------------------------------

  function showError(text) {
    ui.error.textContent = text;
    ui.error.classList.toggle("visible", Boolean(text));
  }

  function clearError() {
    showError("");
  }

  // ---- members, roles, channels ------------------------------------------------------------

  function visibleChannels() {
    const me = currentMember();
    const moderator = Boolean(me && me.moderator);
    return ((app.state && app.state.channels) || []).filter((c) => moderator || !c.moderators_only);
  }

  function renderMemberSelect() {
    const signature = JSON.stringify(members().map((m) => [m.id, m.name]));
    if (signature === app.signatures.members) return;
    app.signatures.members = signature;
    const select = ui.memberSelect;
    select.replaceChildren(
      ...members().map((m) =>
        el("option", { value: m.id, text: m.name + (m.moderator ? " (moderator)" : "") })
      )
    );
    select.value = app.member || "";
    refreshMemberFields();
  }

  function renderRoles() {
    const me = currentMember();
    const roles = (me && me.roles) || [];
    const signature = JSON.stringify([app.member, roles]);
    if (signature === app.signatures.roles) return;
    app.signatures.roles = signature;
    if (!roles.length) {
      ui.roles.replaceChildren(el("li", { class: "role-pill role-none", text: "No roles" }));
      return;
    }
    ui.roles.replaceChildren(
      ...roles.map((role) => {
        const dot = el("span", { class: "role-dot", "aria-hidden": "true" });
        dot.style.backgroundColor = colourHex(role.color) || "#99aab5";
        const pillNode = el("li", { class: "role-pill", dataset: { roleId: role.id } }, dot, role.name);
        const colour = colourHex(role.color);
        if (colour) pillNode.style.borderColor = colour;
        return pillNode;
      })
    );
  }

  function renderChannels() {
    const channels = visibleChannels();
    const signature = JSON.stringify([channels, app.view]);
    if (signature === app.signatures.channels) return;
    app.signatures.channels = signature;
    const focusedId = document.activeElement && document.activeElement.dataset.channelId;
    ui.channels.replaceChildren(
      ...channels.map((channel) => {
        const current = app.view.kind === "channel" && app.view.id === channel.id;
        const button = el(
          "button",
          {
            type: "button",
            class: "nav-item" + (current ? " current" : ""),
            "aria-current": current ? "page" : null,
            dataset: { channelId: channel.id },
            onclick: () => setView({ kind: "channel", id: channel.id }),
          },
          el("span", { class: "nav-icon", "aria-hidden": "true", text: "#" }),
          el("span", { text: channel.name }),
          channel.moderators_only
            ? el("span", { class: "nav-badge", text: "moderators" })
            : null
        );
        return el("li", {}, button);
      })
    );
    if (focusedId) {
      const again = ui.channels.querySelector(`[data-channel-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus();
    }
    const inDms = app.view.kind === "dms";
    ui.dmButton.classList.toggle("current", inDms);
    if (inDms) ui.dmButton.setAttribute("aria-current", "page");
    else ui.dmButton.removeAttribute("aria-current");
  }

  function renderTitle() {
    const me = currentMember();
    if (app.view.kind === "dms") {
      ui.title.textContent = `Direct messages — ${me ? me.name : ""}`;
      ui.intro.textContent = `${me ? me.name : "This member"}'s direct messages from the bot appear here.`;
      ui.input.placeholder = "Commands work in channels: type / and the answer appears there";
    } else {
      const name = channelName(app.view.id) || "channel";
      ui.title.textContent = `# ${name}`;
      ui.intro.textContent = `This is the beginning of #${name}. Type / to use the shop's commands.`;
      ui.input.placeholder = `Type / to use a command in #${name}`;
    }
    document.title = `${ui.title.textContent} · ${(app.state && app.state.guild.name) || "Sandbox"}`;
  }

  function ensureValidView() {
    const channels = visibleChannels();
    if (app.view && app.view.kind === "dms") return;
    if (app.view && channels.some((c) => c.id === app.view.id)) return;
    app.view = channels.length ? { kind: "channel", id: channels[0].id } : { kind: "dms" };
  }

  function saveLocation() {
    const params = new URLSearchParams();
    if (app.guild) params.set("guild", app.guild);
    if (app.member) params.set("member", app.member);
    params.set("view", app.view.kind === "dms" ? "dms" : app.view.id);
    history.replaceState(null, "", `#${params}`);
  }

  function initialsOf(name) {
    const words = String(name || "?").split(/\s+/).filter(Boolean);
    return words.slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
  }

  function renderGuilds() {
    const guilds = (app.state && app.state.guilds) || [];
    const signature = JSON.stringify([guilds, app.guild]);
    if (signature === app.signatures.guilds) return;
    app.signatures.guilds = signature;
    const focusedId = document.activeElement && document.activeElement.dataset.guildId;
    ui.guildList.replaceChildren(
      ...guilds.map((guild) => {
        const current = guild.id === app.guild;
        const button = el("button", {
          type: "button",
          class: "guild-button" + (current ? " current" : ""),
          "aria-label": guild.name,
          "aria-current": current ? "true" : null,
          title: guild.name,
          text: initialsOf(guild.name),
          dataset: { guildId: guild.id },
          onclick: () => setGuild(guild.id),
        });
        return el("li", {}, button);
      })
    );
    if (focusedId) {
      const again = ui.guildList.querySelector(`[data-guild-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus();
    }
  }

  function setGuild(guildId) {
    // As in Discord: another server shows its first channel; the member stays if they
    // are in it too (loadState picks another otherwise).
    if (guildId === app.guild) return;
    app.guild = guildId;
    app.view = null;
    app.chosen = null;
    ui.input.value = "";
    renderOptionsForm();
    ui.list.replaceChildren();
    clearError();
    app.signatures.guilds = "";
    renderGuilds();
    refresh({ scroll: true }).then(saveLocation);
  }

  function setView(view) {
    const changed = JSON.stringify(view) !== JSON.stringify(app.view);
    app.view = view;
    ensureValidView();
    if (changed) ui.list.replaceChildren();
    renderChannels();
    renderTitle();
    saveLocation();
    refresh({ scroll: true });
  }

  function setMember(memberId) {
    app.member = memberId;
    ui.memberSelect.value = memberId;
    ui.list.replaceChildren();
    clearError();
    ensureValidView();
    renderRoles();
    renderChannels();
    renderTitle();
    refreshCommandUi();
    saveLocation();
    refresh({ scroll: true });
  }

  // ---- refresh and polling -----------------------------------------------------------------

  async function loadState() {
    const asked = app.guild;
    const query = asked ? `?guild=${encodeURIComponent(asked)}` : "";
    const state = await api("GET", `/state${query}`);
    if (asked !== app.guild) return; // switched guilds meanwhile: that load shows it
    app.state = state;
    app.guild = state.guild ? state.guild.id : null;
    ui.guildName.textContent = state.guild ? state.guild.name : "Sandbox";
    ui.shopSummary.textContent = state.shop
      ? `Shop: ${state.shop.name} · ${state.shop.currency} · ${state.shop.locale}`
      : "";
    renderGuilds();
    if (!members().some((m) => m.id === app.member)) {
      app.member = members().length ? members()[0].id : null;
    }
    renderMemberSelect();
    ensureValidView();
    renderRoles();
    renderChannels();
    renderTitle();
    renderClock();
  }

  // ---- the sandbox's clock -----------------------------------------------------------------

  function plural(count, unit) {
    return `${count} ${unit}${count === 1 ? "" : "s"}`;
  }

  function renderClock() {
    const clock = app.state && app.state.clock;
    if (!clock) return;
    const now = new Date(clock.now).toLocaleString(undefined, {
      dateStyle: "medium",
      timeStyle: "short",
    });
    const days = Math.floor(clock.ahead_seconds / 86400);
    const hours = Math.floor((clock.ahead_seconds % 86400) / 3600);
    const ahead = [days ? plural(days, "day") : "", hours ? plural(hours, "hour") : ""]
      .filter(Boolean)
      .join(" ");
    ui.clockNow.textContent = ahead ? `${now} (${ahead} ahead)` : `${now} (real time)`;
  }

  async function skipAhead(days) {
    // Renewals, reminders and expiries happen before the sandbox answers: refresh after.
    // Clicks meanwhile are ignored rather than the buttons disabled, so focus stays put.
    if (app.skipping) return;
    app.skipping = true;
    clearError();
    ui.clockStatus.textContent = `Skipping ahead ${plural(days, "day")}…`;
    try {
      await api("POST", "/clock", { advance: { days } });
      ui.clockStatus.textContent = `Skipped ahead ${plural(days, "day")}.`;
      await refresh({ scroll: true });
    } catch (err) {
      ui.clockStatus.textContent = "";
      showError(err.message);
    } finally {
      app.skipping = false;
    }
  }

  for (const button of ui.skipButtons) {
    button.addEventListener("click", () => skipAhead(Number(button.dataset.skipDays)));
  }

  async function loadMessages() {
    if (!app.member || !app.view) return;
    const view = app.view;
    const member = app.member;
    const path =
      view.kind === "dms"
        ? `/members/${encodeURIComponent(member)}/dms`
        : `/channels/${encodeURIComponent(view.id)}/messages?member=${encodeURIComponent(member)}`;
    const data = await api("GET", path);
    if (view !== app.view || member !== app.member) return; // switched meanwhile
    showMessages(data.messages || []);
  }

  function refresh(opts) {
    // One refresh at a time; a request during one runs again right after it.
    const run = async () => {
      try {
        await loadState();
        await loadMessages();
        document.body.classList.remove("offline");
        if (app.offlineError && ui.error.textContent === app.offlineError) clearError();
        app.offlineError = null;
      } catch (err) {
        document.body.classList.add("offline");
        if (!ui.error.textContent) {
          app.offlineError = err.message;
          showError(err.message);
        }
      }
      if (opts && opts.scroll) ui.messages.scrollTop = ui.messages.scrollHeight;
    };
    const next = (app.refreshing || Promise.resolve()).then(run);
    app.refreshing = next.finally(() => {
      if (app.refreshing === next) app.refreshing = null;
    });
    return next;
  }

  function schedulePoll() {
    clearTimeout(app.pollTimer);
    app.pollTimer = setTimeout(async () => {
      await refresh();
      schedulePoll();
    }, POLL_MS);
  }

  // ---- the command bar ---------------------------------------------------------------------

  function commandVisible(command) {
    // Discord hides commands that need permissions from members without them.
    const me = currentMember();
    const perms = command.default_member_permissions;
    return perms === null || perms === undefined || Boolean(me && me.moderator);
  }

  function leaves() {
    const result = [];
    for (const command of (app.state && app.state.commands) || []) {
      if (!commandVisible(command)) continue;
      const walk = (node, path) => {
        const subs = (node.options || []).filter(
          (o) => o.type === OPTION.SUB || o.type === OPTION.GROUP
        );
        if (!subs.length) {
          result.push({
            command: command.name,
            path,
            leaf: node,
            label: "/" + [command.name, ...path].join(" "),
            description: node.description || command.description || "",
          });
          return;
        }
        for (const sub of subs) walk(sub, [...path, sub.name]);
      };
      walk(command, []);
    }
    return result;
  }

  // A combobox: an input with a listbox of suggestions, keyboard and mouse.
  function makeCombo(input, listbox, onPick) {
    const combo = { items: [], active: -1 };
    combo.open = (items) => {
      combo.items = items;
      combo.active = items.length ? 0 : -1;
      listbox.replaceChildren(
        ...items.map((item, index) => {
          const option = el(
            "li",
            {
              id: `${listbox.id}-${index}`,
              role: "option",
              class: "suggestion",
              "aria-label": item.name,
              "aria-describedby": item.hint ? `${listbox.id}-${index}-hint` : null,
              "aria-selected": index === combo.active ? "true" : "false",
              onmousedown: (event) => event.preventDefault(),
              onclick: () => combo.pick(index),
            },
            el("span", { class: "suggestion-name", text: item.name })
          );
          if (item.hint) {
            option.append(
              el("span", { id: `${listbox.id}-${index}-hint`, class: "suggestion-hint", text: item.hint })
            );
          }
          return option;
        })
      );
      listbox.hidden = !items.length;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      combo.highlight();
    };
    combo.close = () => {
      combo.items = [];
      combo.active = -1;
      listbox.hidden = true;
      listbox.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    };
    combo.isOpen = () => !listbox.hidden && combo.items.length > 0;
    combo.highlight = () => {
      [...listbox.children].forEach((node, index) => {
        const on = index === combo.active;
        node.setAttribute("aria-selected", on ? "true" : "false");
        node.classList.toggle("active", on);
        if (on) node.scrollIntoView({ block: "nearest" });
      });
      if (combo.active >= 0) input.setAttribute("aria-activedescendant", `${listbox.id}-${combo.active}`);
      else input.removeAttribute("aria-activedescendant");
    };
    combo.pick = (index) => {
      const item = combo.items[index];
      combo.close();
      if (item) onPick(item);
    };
    input.addEventListener("keydown", (event) => {
      if (!combo.isOpen()) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        combo.active = (combo.active + step + combo.items.length) % combo.items.length;
        combo.highlight();
      } else if (event.key === "Enter" || (event.key === "Tab" && !event.shiftKey && combo.active >= 0)) {
        if (combo.active >= 0) {
          event.preventDefault();
          event.stopPropagation();
          combo.pick(combo.active);
        }
      } else if (event.key === "Escape") {
        event.preventDefault();
        combo.close();
      }
    });
    // Closed a moment after focus leaves, unless it came back meanwhile (a fast click away
    // and a new "/..." typed within the delay keeps the fresh list open).
    input.addEventListener("blur", () =>
      setTimeout(() => {
        if (document.activeElement !== input) combo.close();
      }, 150)
    );
    return combo;
  }

  const commandCombo = makeCombo(ui.input, ui.suggestions, (item) => chooseCommand(item.leaf));

  function updateCommandSuggestions() {
    const text = ui.input.value;
    if (app.chosen && text.trim() === app.chosen.label) {
      commandCombo.close();
      return;
    }
    if (app.chosen) {
      app.chosen = null;
      renderOptionsForm();
    }
    if (!text.startsWith("/")) {
      commandCombo.close();
      return;
    }
    const query = text.slice(1).trim().toLowerCase().replace(/\s+/g, " ");
    const all = leaves();
    const matches = all.filter((leaf) => leaf.label.slice(1).startsWith(query));
    const loose = all.filter(
      (leaf) => !matches.includes(leaf) && leaf.label.slice(1).includes(query)
    );
    commandCombo.open(
      [...matches, ...loose].slice(0, 25).map((leaf) => ({
        name: leaf.label,
        hint: leaf.description,
        leaf,
      }))
    );
  }

  function chooseCommand(leaf) {
    app.chosen = leaf;
    ui.input.value = leaf.label;
    clearError();
    renderOptionsForm();
    const first = ui.options.querySelector("input, select, textarea");
    if (first) first.focus();
    else ui.input.focus();
  }

  function refreshCommandUi() {
    // After a member switch: a moderator-only command is no longer available to others.
    if (app.chosen && !leaves().some((l) => l.label === app.chosen.label)) {
      app.chosen = null;
      ui.input.value = "";
      renderOptionsForm();
    }
    refreshMemberFields();
  }

  function memberOptions(select, required) {
    const previous = select.value;
    const options = [];
    if (!required) options.push(el("option", { value: "", text: "— nobody —" }));
    else options.push(el("option", { value: "", disabled: true, text: "Choose a member…" }));
    for (const member of members()) options.push(el("option", { value: member.id, text: member.name }));
    select.replaceChildren(...options);
    select.value = members().some((m) => m.id === previous) ? previous : "";
  }

  function refreshMemberFields() {
    for (const select of ui.options.querySelectorAll("select[data-kind=user]")) {
      if (document.activeElement === select) continue;
      memberOptions(select, select.required);
    }
  }

  function renderOptionsForm() {
    const leaf = app.chosen;
    const options = leaf ? (leaf.leaf.options || []).filter((o) => o.type !== OPTION.SUB && o.type !== OPTION.GROUP) : [];
    if (!leaf || !options.length) {
      ui.options.hidden = true;
      ui.options.replaceChildren();
      if (leaf) ui.options.dataset.command = leaf.label;
      return;
    }
    const group = el("div", { class: "option-grid", role: "group", "aria-label": `Options for ${leaf.label}` });
    const required = options.filter((o) => o.required);
    const optional = options.filter((o) => !o.required);
    for (const option of [...required, ...optional]) group.append(renderOptionField(option));
    ui.options.replaceChildren(
      el("p", { class: "options-title" }, el("strong", { text: leaf.label }), " ", leaf.description),
      group
    );
    ui.options.hidden = false;
  }

  function renderOptionField(option) {
    const id = `opt-${option.name}`;
    const hintId = `${id}-hint`;
    const field = el("div", { class: "option-field" + (option.type === OPTION.BOOLEAN ? " boolean" : "") });
    const label = el("label", { for: id }, option.name);
    // The star stays outside the label, so the control's name is just the option's name.
    const star = option.required ? el("span", { class: "required", "aria-hidden": "true", text: "*" }) : null;
    const labelLine = el("div", { class: "label-line" }, label, star);
    const hint = el("span", { id: hintId, class: "option-hint", text: option.description || "" });
    let control;
    if (option.choices && option.choices.length) {
      control = el("select", { id });
      control.append(el("option", { value: "", text: option.required ? "Choose…" : "—" }));
      option.choices.forEach((choice, index) => {
        control.append(el("option", { value: String(index), text: choice.name }));
      });
      control.dataset.kind = "choice";
    } else if (option.type === OPTION.BOOLEAN) {
      control = el("input", { id, type: "checkbox" });
      control.dataset.kind = "boolean";
    } else if (option.type === OPTION.USER) {
      control = el("select", { id });
      control.dataset.kind = "user";
      control.required = Boolean(option.required);
      memberOptions(control, option.required);
    } else if (option.type === OPTION.INTEGER || option.type === OPTION.NUMBER) {
      control = el("input", {
        id,
        type: option.autocomplete ? "text" : "number",
        inputmode: option.type === OPTION.INTEGER ? "numeric" : "decimal",
        step: option.autocomplete ? null : option.type === OPTION.INTEGER ? "1" : "any",
        min: option.autocomplete ? null : option.min_value,
        max: option.autocomplete ? null : option.max_value,
      });
      control.dataset.kind = option.type === OPTION.INTEGER ? "integer" : "number";
    } else {
      control = el("input", {
        id,
        type: "text",
        minlength: option.min_length,
        maxlength: option.max_length,
      });
      control.dataset.kind = "string";
    }
    control.dataset.option = option.name;
    control.setAttribute("aria-describedby", hintId);
    if (option.required) control.setAttribute("aria-required", "true");
    control.classList.add("option-control");
    if (option.type === OPTION.BOOLEAN) {
      field.append(el("div", { class: "checkbox-line" }, control, labelLine), hint);
    } else if (option.autocomplete) {
      const listbox = el("ul", {
        id: `${id}-suggestions`,
        class: "suggestions",
        role: "listbox",
        "aria-label": `Suggestions for ${option.name}`,
        hidden: true,
      });
      control.setAttribute("role", "combobox");
      control.setAttribute("aria-autocomplete", "list");
      control.setAttribute("aria-expanded", "false");
      control.setAttribute("aria-controls", listbox.id);
      control.setAttribute("spellcheck", "false");
      wireAutocomplete(control, listbox, option);
      field.append(labelLine, el("div", { class: "combo" }, control, listbox), hint);
    } else {
      field.append(labelLine, control, hint);
    }
    field.dataset.option = option.name;
    return field;
  }

  function wireAutocomplete(input, listbox, option) {
    let timer = null;
    let asked = 0;
    const combo = makeCombo(input, listbox, (item) => {
      input.value = item.name;
      input.dataset.value = JSON.stringify(item.value);
      input.dataset.valueName = item.name;
    });
    const ask = async () => {
      const chosen = app.chosen;
      if (!chosen || document.activeElement !== input) return;
      const ticket = ++asked;
      try {
        const body = {
          member: app.member,
          guild: app.guild,
          command: chosen.command,
          path: chosen.path,
          focused: option.name,
          options: { ...collectOptions({ partial: true }), [option.name]: input.value },
        };
        if (app.view.kind === "channel") body.channel = app.view.id;
        const data = await api("POST", "/autocomplete", body);
        if (ticket !== asked || document.activeElement !== input) return;
        combo.open(
          (data.choices || []).map((choice) => ({ name: choice.name, value: choice.value }))
        );
      } catch (err) {
        if (ticket === asked) showError(err.message);
      }
    };
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(ask, AUTOCOMPLETE_DELAY_MS);
    };
    input.addEventListener("input", () => {
      if (input.value !== input.dataset.valueName) {
        delete input.dataset.value;
        delete input.dataset.valueName;
      }
      later();
    });
    input.addEventListener("focus", later);
  }

  class InputProblem extends Error {
    constructor(message, control) {
      super(message);
      this.control = control;
    }
  }

  function collectOptions({ partial } = { partial: false }) {
    const values = {};
    const leaf = app.chosen;
    if (!leaf) return values;
    const byName = new Map((leaf.leaf.options || []).map((o) => [o.name, o]));
    for (const control of ui.options.querySelectorAll(".option-control")) {
      const option = byName.get(control.dataset.option);
      if (!option) continue;
      const kind = control.dataset.kind;
      let value;
      if (kind === "boolean") {
        if (control.checked) value = true;
        else if (option.required) value = false;
      } else if (kind === "choice") {
        if (control.value !== "") value = option.choices[Number(control.value)].value;
      } else if (kind === "user") {
        if (control.value) value = control.value;
      } else if (control.dataset.value !== undefined) {
        value = JSON.parse(control.dataset.value); // an autocomplete answer: its value, not its name
      } else {
        const text = control.value.trim();
        if (text !== "") {
          if (kind === "integer" || kind === "number") {
            const number = Number(text);
            if (!partial && (!Number.isFinite(number) || (kind === "integer" && !Number.isInteger(number)))) {
              throw new InputProblem(`${option.name} must be a ${kind === "integer" ? "whole number" : "number"}.`, control);
            }
            value = Number.isFinite(number) ? number : text;
          } else {
            value = control.value;
          }
        }
      }
      if (value === undefined) {
        if (option.required && !partial) throw new InputProblem(`Fill in ${option.name}.`, control);
        continue;
      }
      if (!partial && typeof value === "number") {
        if (option.min_value !== undefined && value < option.min_value) {
          throw new InputProblem(`${option.name} must be at least ${option.min_value}.`, control);
        }
        if (option.max_value !== undefined && value > option.max_value) {
          throw new InputProblem(`${option.name} must be at most ${option.max_value}.`, control);
        }
      }
      if (!partial && typeof value === "string" && kind === "string") {
        if (option.min_length !== undefined && value.length < option.min_length) {
          throw new InputProblem(`${option.name} needs at least ${option.min_length} characters.`, control);
        }
      }
      values[option.name] = value;
    }
    return values;
  }

  async function sendCommand() {
    clearError();
    if (!app.chosen) {
      const text = ui.input.value.trim();
      const exact = leaves().find((l) => l.label === text.replace(/\s+/g, " "));
      if (exact) {
        chooseCommand(exact);
        if ((exact.leaf.options || []).some((o) => o.required)) return;
      } else {
        showError(text ? "Choose a command from the list: type / to see them." : "Type / to choose a command.");
        ui.input.focus();
        return;
      }
    }
    let options;
    try {
      options = collectOptions();
    } catch (err) {
      if (!(err instanceof InputProblem)) throw err;
      showError(err.message);
      if (err.control) err.control.setAttribute("aria-invalid", "true");
      if (err.control) err.control.focus();
      return;
    }
    const chosen = app.chosen;
    const body = { member: app.member, guild: app.guild, command: chosen.command, path: chosen.path, options };
    if (app.view.kind === "channel") body.channel = app.view.id;
    const send = $("send-button");
    send.disabled = true;
    try {
      const data = await api("POST", "/commands", body);
      app.chosen = null;
      ui.input.value = "";
      renderOptionsForm();
      ui.input.focus();
      await handleResult(data.result);
    } catch (err) {
      showError(err.message);
    } finally {
      send.disabled = false;
    }
  }

  // ---- modals ------------------------------------------------------------------------------

  // A modal's inputs, however Discord nests them: action rows of text inputs (the classic
  // form), or labels (type 18) around a text input or a select, with text displays (10).
  function modalEntries(components) {
    const entries = [];
    for (const top of components || []) {
      if (top.type === 1) {
        for (const input of top.components || []) entries.push({ input, label: input.label });
      } else if (top.type === 18 && top.component) {
        entries.push({ input: top.component, label: top.label, description: top.description });
      } else if (top.type === 10) {
        entries.push({ text: top.content || "" });
      } else {
        entries.push({ input: top, label: top.label });
      }
    }
    return entries;
  }

  function modalControl(input, id) {
    if (input.type === 3) {
      const multiple = (input.max_values || 1) > 1;
      const control = el(
        "select",
        { id, name: input.custom_id, multiple, required: input.required !== false },
        multiple ? null : el("option", { value: "", text: input.placeholder || "Choose…" }),
        ...(input.options || []).map((o) =>
          el("option", { value: o.value, text: o.label, selected: Boolean(o.default) })
        )
      );
      control.dataset.kind = "select";
      return control;
    }
    const control = el(input.style === 2 ? "textarea" : "input", {
      id,
      name: input.custom_id,
      type: input.style === 2 ? null : "text",
      rows: input.style === 2 ? 4 : null,
      required: input.required !== false,
      "aria-required": input.required !== false ? "true" : null,
      maxlength: input.max_length,
      minlength: input.min_length,
      placeholder: input.placeholder,
    });
    if (typeof input.value === "string") control.value = input.value;
    return control;
  }

  function openModal(modal) {
    app.modalId = modal.id;
    ui.modalTitle.textContent = modal.title || "Form";
    ui.modalError.textContent = "";
    const fields = [];
    for (const entry of modalEntries(modal.components)) {
      if (entry.text !== undefined) {
        fields.push(el("p", { class: "modal-text" }, markdown(entry.text)));
        continue;
      }
      const input = entry.input;
      if (input.type !== 4 && input.type !== 3) continue;
      const id = `modal-input-${fields.length}`;
      const label = el("label", { for: id }, entry.label || input.custom_id);
      const star = input.required !== false
        ? el("span", { class: "required", "aria-hidden": "true", text: "*" })
        : null;
      const control = modalControl(input, id);
      control.dataset.customId = input.custom_id;
      const description = entry.description
        ? el("p", { class: "modal-description", id: `${id}-description`, text: entry.description })
        : null;
      if (description) control.setAttribute("aria-describedby", description.id);
      const counter = input.type === 4 && input.max_length
        ? el("span", { class: "option-hint", "aria-live": "off" })
        : null;
      if (counter) {
        const update = () => (counter.textContent = `${control.value.length} / ${input.max_length}`);
        control.addEventListener("input", update);
        update();
      }
      fields.push(
        el(
          "div",
          { class: "modal-field" },
          el("div", { class: "label-line" }, label, star),
          description,
          control,
          counter
        )
      );
    }
    ui.modalFields.replaceChildren(...fields);
    if (!ui.modal.open) ui.modal.showModal();
    const first = ui.modalFields.querySelector("input, textarea, select");
    if (first) first.focus();
  }

  async function submitModal() {
    ui.modalError.textContent = "";
    const values = {};
    for (const control of ui.modalFields.querySelectorAll("[data-custom-id]")) {
      if (control.required && !control.value.trim()) {
        ui.modalError.textContent = `Fill in “${control.labels[0].textContent}”.`;
        control.focus();
        return;
      }
      values[control.dataset.customId] =
        control.dataset.kind === "select"
          ? [...control.selectedOptions].map((o) => o.value).filter(Boolean)
          : control.value;
    }
    const submit = $("modal-submit");
    submit.disabled = true;
    try {
      const data = await api("POST", "/modals", { member: app.member, modal_id: app.modalId, values });
      ui.modal.close();
      await handleResult(data.result);
    } catch (err) {
      ui.modalError.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  }

  // ---- wiring ------------------------------------------------------------------------------

  ui.input.addEventListener("input", updateCommandSuggestions);
  ui.input.addEventListener("focus", () => {
    if (ui.input.value.startsWith("/") && !app.chosen) updateCommandSuggestions();
  });
  ui.bar.addEventListener("submit", (event) => {
    event.preventDefault();
    sendCommand();
  });
  ui.options.addEventListener("input", (event) => event.target.removeAttribute("aria-invalid"));
  ui.memberSelect.addEventListener("change", () => setMember(ui.memberSelect.value));
  ui.dmButton.addEventListener("click", () => setView({ kind: "dms" }));
  ui.modalForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitModal();
  });
  ui.modalCancel.addEventListener("click", () => ui.modal.close());
  ui.modal.addEventListener("close", () => {
    app.modalId = null;
    ui.input.focus();
  });

  async function start() {
    const params = new URLSearchParams(location.hash.slice(1));
    app.guild = params.get("guild");
    app.member = params.get("member");
    const view = params.get("view");
    app.view = view === "dms" ? { kind: "dms" } : view ? { kind: "channel", id: view } : null;
    try {
      try {
        await loadState();
      } catch (err) {
        if (!app.guild) throw err;
        app.guild = null; // a link to a guild the sandbox no longer has: show the first
        await loadState();
      }
      saveLocation();
      await loadMessages();
      ui.messages.scrollTop = ui.messages.scrollHeight;
    } catch (err) {
      showError(err.message);
    }
    document.body.dataset.ready = "true";
    schedulePoll();
  }

  start();
})();
