"""Explaining a denial from the browser alone: log in, see the denied skopeo pull in the feed,
open its decision (and reach it from the link the denial carries), read every check; the
overview counts what the test did."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.e2e.console.conftest import NARROW, OpenConsole
from tests.integration.admin.conftest import MakeWorld
from tests.support.push import skopeo_copy

POLICY = """
default_action: allow
rules:
  - {id: no-bad, match: {repository: "bad/*"}, action: deny, description: "bad/* is not for production", owner: security}
"""
PUBLIC = "http://pullgate.console.test"


async def test_a_denied_pull_is_explained_in_the_browser(
    make_world: MakeWorld, open_console: OpenConsole, tmp_path: Path
) -> None:
    world = await make_world(POLICY, ui={"public_url": PUBLIC})
    await world.push("ok/app", "1")
    await world.push("bad/app", "1")
    await skopeo_copy(f"docker://{world.pullgate.host}/ok/app:1", f"dir:{tmp_path / 'ok'}")
    refused = await skopeo_copy(
        f"docker://{world.pullgate.host}/bad/app:1", f"dir:{tmp_path / 'bad'}", check=False
    )
    assert refused.returncode != 0 and "bad/* is not for production" in refused.stderr
    denied = await world.pull("bad/app", "1")  # the same denial, read as a client reads it
    decision_id = denied.error["detail"]["decision_id"]
    decision_url = denied.error["detail"]["decision_url"]
    assert decision_url == f"{PUBLIC}/ui/#/decisions/{decision_id}"
    events = await world.audited(3, kind="pull")

    console = await open_console(world)
    # A wrong token is refused with a message, and nothing else is shown.
    await console.page.goto(f"{console.base}/ui/")
    await console.page.get_by_label("API token").fill("pgt_not-a-real-token")
    await console.page.get_by_role("button", name="Log in").click()
    await expect(console.page.locator("#login-token-error")).to_have_text("This token is unknown or revoked.")
    await expect(console.page.locator("#nav")).to_be_hidden()
    await console.shot("login-refused")

    await console.login(world.admin.token or "")
    # Overview: the tiles count exactly the pulls the audit log holds, by outcome.
    counts = {outcome: sum(1 for e in events if e["outcome"] == outcome) for outcome in ("allow", "deny")}
    assert counts["deny"] >= 2 and counts["allow"] >= 1
    for outcome, count in counts.items():
        await expect(
            console.page.locator(f'#pull-totals [data-outcome="{outcome}"] .tile-number')
        ).to_have_text(str(count))
    await expect(console.page.locator("#pull-chart svg rect.series-deny")).not_to_have_count(0)
    await expect(console.page.locator("#top-reasons")).to_contain_text("no-bad")
    await expect(console.page.locator("#top-images")).to_contain_text("bad/app")
    await expect(console.page.locator("#upstreams")).to_contain_text("healthy")
    await console.shot("overview")

    # The feed lists the denied pull; its decision page shows each check and reason.
    await console.page.get_by_role("link", name="Decisions").click()
    row = console.page.locator("#feed tbody tr", has_text="bad/app").first
    await expect(row).to_contain_text("denied")
    await console.shot("decisions-feed")
    await console.page.locator("#feed-filters").get_by_label("Decision").select_option("deny")
    await console.page.locator("#feed-filters").get_by_role("button", name="Filter").click()
    await expect(console.page.locator("#feed tbody tr")).to_have_count(counts["deny"])
    await expect(console.page.locator("#feed tbody")).not_to_contain_text("ok/app")
    await row.get_by_role("link", name="Open").click()
    checks = console.page.locator("#checks li.check")
    await expect(checks).to_have_count(1)
    await expect(checks.first).to_contain_text("rule")
    await expect(checks.first).to_contain_text("no-bad")
    await expect(checks.first).to_contain_text("bad/* is not for production")
    await expect(console.page.locator("#decision .verdict")).to_contain_text("denied")
    await console.shot("decision")

    # The link in the denial leads to that decision's page (same path, this test's server).
    await console.page.goto(decision_url.replace(PUBLIC, console.base))
    await expect(console.page.locator("#decision h1")).to_contain_text(decision_id)
    await expect(console.page.locator("#checks")).to_contain_text("owner")  # the rule's detail

    # The same pages are usable on a phone: no sideways scroll, the menu opens the navigation.
    phone = await open_console(world, NARROW)
    await phone.login(world.admin.token or "")
    await phone.no_horizontal_scroll()
    await expect(phone.page.locator("#nav")).to_be_hidden()
    await expect(phone.page.locator("#pull-chart svg")).to_be_visible()
    await phone.shot("overview-narrow")
    await phone.page.get_by_role("button", name="Menu").click()
    await expect(phone.page.get_by_role("link", name="Quarantine")).to_be_visible()
    await phone.shot("menu-narrow")
    await phone.open(f"/decisions/{decision_id}")
    await expect(phone.page.locator("#checks")).to_contain_text("no-bad")
    await phone.no_horizontal_scroll()
    await phone.shot("decision-narrow")
    await phone.open("/decisions")
    await phone.no_horizontal_scroll()
    await phone.shot("decisions-feed-narrow")

    # Logging out forgets the token: the next visit asks for one again.
    await console.page.get_by_role("button", name="Log out").click()
    await expect(console.page.get_by_label("API token")).to_be_visible()
    assert await console.page.evaluate("() => sessionStorage.length") == 0
