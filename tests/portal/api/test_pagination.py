from __future__ import annotations

import pytest
from django.urls import reverse

from tests.catalog.oncall.factories import OnCallOverrideFactory

pytestmark = pytest.mark.django_db

OVERRIDES = reverse("oncall_api:overrides")


@pytest.mark.parametrize(
    "query",
    ["offset=null", "offset=-1", "offset=1_0", "offset=%D9%A5", "limit=0", "limit=501", "limit=", "limit=9" * 30],
)
def test_a_limit_or_offset_out_of_range_is_an_input_error(auth_client, query):
    response = auth_client.get(f"{OVERRIDES}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["name"] == "InputError"
    assert query.split("=")[0] in response.json()["error"]["details"]


def test_limit_and_offset_page_through_a_list(auth_client):
    OnCallOverrideFactory.create_batch(3, reason="swap")
    response = auth_client.get(f"{OVERRIDES}?includePast=true&limit=2&offset=1")
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert body["previous"] is not None
