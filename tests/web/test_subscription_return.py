"""GET /subscription/return: where a gateway's payment-details page sends the member back."""

from __future__ import annotations

import pytest

from tests.web.conftest import Storefront

pytestmark = pytest.mark.asyncio


async def test_the_subscription_return_page_sends_the_member_back_to_discord(
    storefront: Storefront,
) -> None:
    url = f"{storefront.url}/subscription/return?session_id=<script>"
    async with storefront.http.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert "Your payment details are saved; you can close this page and go back to Discord" in page
    assert "<script>" not in page
