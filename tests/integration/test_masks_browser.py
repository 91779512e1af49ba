"""Drawing masks and zones in the dashboard, in a real headless Chromium against the real API on
a real PostgreSQL: the camera's latest key frame (a real Ped2 frame), clicks place the points, the
polygon is saved through the API in frame fractions, shown over the frame, listed and removed; a
read-only token sees them but cannot draw; the incident page names the zones it touched, the
incident list shows them and filters by zone."""

from __future__ import annotations

import pytest

from db.models import CameraRegion, Incident
from db.session import transaction
from tests.integration.test_dashboard_browser import CAMERA, app_with_ui, not_blank, seed
from tests.support.browser import ApiServer, Browser, chromium_missing
from tests.support.requirements import missing

pytestmark = [
    pytest.mark.integration,
    pytest.mark.embedded_broker_only("database-only: the key frame is stored in PostgreSQL"),
]

FRAME = "#region-frame"
CLOCK = [(0.02, 0.03), (0.35, 0.03), (0.35, 0.2)]  # three clicks: the top-left corner


def _regions(pipeline) -> list[CameraRegion]:
    with pipeline.sessions() as session:
        return list(session.query(CameraRegion).order_by(CameraRegion.id))


def _sign_in(browser: Browser, server: ApiServer, token: str) -> None:
    browser.goto(server.url + "/")
    browser.wait_for("document.querySelector('#token')", "the login form")
    browser.type("#token", token)
    browser.press_enter()
    browser.wait_for("location.hash === '#/cameras'", "the camera wall")


def _draw(browser: Browser, points) -> None:
    for x, y in points:
        browser.click_at(FRAME, x, y)
    browser.wait_for(
        f"document.querySelector('svg.region-overlay').dataset.draft === '{len(points)}'",
        "the draft polygon",
    )


def test_masks_and_zones_are_drawn_on_the_key_frame_in_chromium(pipeline, ped2, tmp_path):
    if reason := chromium_missing():
        missing(reason)
    data = seed(pipeline, ped2)
    with transaction(pipeline.sessions) as session:
        session.get(Incident, data["incident"]).zones = ["walkway"]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with ApiServer(app_with_ui(pipeline)) as server:
        browser = Browser(tmp_path)
        try:
            _sign_in(browser, server, data["admin"])
            link = f'[data-camera="{CAMERA}"] a.masks-link'
            browser.wait_for(f"document.querySelector('{link}')", "the camera card's link")
            browser.click(link)
            browser.wait_for(
                "(() => { const i = document.querySelector('img#region-frame');"
                " return i && i.complete && i.naturalWidth === 360; })()",
                "the camera's latest key frame",
            )
            assert browser.evaluate("location.hash") == f"#/cameras/{CAMERA}/masks"
            assert browser.evaluate("document.querySelector('#save-polygon').disabled")

            # A mask over the top-left corner: three clicks, then save.
            _draw(browser, CLOCK)
            browser.click("#save-polygon")
            browser.wait_for("document.querySelectorAll('polygon.mask-shape').length === 1", "mask")
            [mask] = _regions(pipeline)
            assert mask.kind == "mask" and mask.zone is None and len(mask.points) == 3
            for (x, y), (cx, cy) in zip(mask.points, CLOCK, strict=True):
                assert abs(x - cx) < 0.01 and abs(y - cy) < 0.01, (mask.points, CLOCK)

            # A zone needs a name: without one nothing is saved and the form says why.
            browser.click("#kind-zone")
            _draw(browser, [(0.1, 0.5), (0.9, 0.5), (0.9, 0.95), (0.1, 0.95)])
            browser.click("#save-polygon")
            browser.wait_for(
                "document.querySelector('#region-message').innerText.includes('name')",
                "the missing-name message",
            )
            assert len(_regions(pipeline)) == 1
            browser.type("#zone-name", "walkway")
            browser.click("#save-polygon")
            browser.wait_for("document.querySelector('text.zone-label')", "the zone's label")
            assert browser.text("#main").count("walkway") >= 2  # label and list
            zone = _regions(pipeline)[1]
            assert zone.kind == "zone" and zone.zone == "walkway" and len(zone.points) == 4
            not_blank(browser.screenshot(shots / "masks.png"))

            # Undo and cancel only touch the draft.
            _draw(browser, [(0.5, 0.5), (0.6, 0.5)])
            browser.click("#undo-point")
            browser.wait_for(
                "document.querySelector('svg.region-overlay').dataset.draft === '1'", "undo"
            )
            browser.click("#cancel-polygon")
            browser.wait_for(
                "document.querySelector('svg.region-overlay').dataset.draft === '0'", "cancel"
            )

            # Remove the mask from the list.
            browser.click(f'li[data-region="{mask.id}"] button')
            browser.wait_for("document.querySelectorAll('polygon.mask-shape').length === 0", "gone")
            assert [r.id for r in _regions(pipeline)] == [zone.id]

            # The incident page names the zones the incident touched.
            browser.goto(server.url + f"/#/incidents/{data['incident']}")
            browser.wait_for("document.querySelector('svg.plot')", "the incident page")
            assert "Zones\nwalkway" in browser.text("dl.facts") or "walkway" in browser.text(
                "dl.facts"
            )

            # The incident list shows the zones and filters by one (typed in the filter bar).
            browser.goto(server.url + "/#/incidents")
            row = f'tr[data-incident="{data["incident"]}"]'
            browser.wait_for(f"document.querySelector('{row}')", "the incident list")
            assert "walkway" in browser.text(row)
            browser.type("#f-zone", "nowhere")
            browser.press_enter()
            browser.wait_for(
                "document.querySelector('#main').innerText.includes('No incidents match')",
                "no incident in 'nowhere'",
            )
            assert "zone=nowhere" in browser.evaluate("location.hash")
            browser.type("#f-zone", " walkway ")
            browser.press_enter()
            browser.wait_for(f"document.querySelector('{row}')", "the incident in 'walkway'")
            assert "zone=walkway" in browser.evaluate("location.hash")

            # A read-only token sees the zone but has nothing to draw with.
            browser.click("#logout")
            _sign_in(browser, server, data["viewer"])
            browser.goto(server.url + f"/#/cameras/{CAMERA}/masks")
            browser.wait_for("document.querySelector('polygon.zone-shape')", "the zone")
            assert browser.evaluate("document.querySelector('#save-polygon')") is None
            assert "admin token" in browser.text("#main")
            assert "Remove" not in browser.text("#main")

            assert browser.exceptions == [], browser.exceptions
            assert browser.console_errors == [], browser.console_errors
            blocked = [e for e in browser.log_entries if "Content Security Policy" in e]
            assert blocked == [], blocked
        finally:
            browser.close()
