"""Working the quarantine queue from the browser: a skopeo pull is held, a reviewer sees why
and releases it (reason, expiry, confirmation), then skopeo pulls it; an auditor sees the
queue without release or reject buttons, and the API refuses the auditor's forced call."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import expect

from tests.e2e.console.conftest import NARROW, OpenConsole
from tests.integration.admin.conftest import MakeWorld
from tests.support.push import skopeo_copy

POLICY = """
default_action: allow
rules:
  - {id: review-new, match: {repository: "held/*"}, action: quarantine, description: new images are reviewed first}
"""


async def test_release_in_the_browser_then_skopeo_pulls(
    make_world: MakeWorld, open_console: OpenConsole, tmp_path: Path
) -> None:
    world = await make_world(POLICY)
    await world.push("held/app", "1")
    await world.push("held/other", "1")
    source = f"docker://{world.pullgate.host}/held/app:1"
    refused = await skopeo_copy(source, f"dir:{tmp_path / 'before'}", check=False)
    assert refused.returncode != 0 and "quarantined pending review" in refused.stderr
    assert (await world.pull("held/other", "1")).status == 403

    console = await open_console(world)
    await console.login(world.admin.token or "")
    await console.open("/quarantine")
    entries = console.page.locator("#quarantine-list li.entry")
    await expect(entries).to_have_count(2)
    card = entries.filter(has_text="held/app:1")
    await expect(card.locator(".why")).to_contain_text("new images are reviewed first")
    await expect(card.locator(".scan-summary")).to_have_text("No finished scan.")
    await expect(card.locator(".signature-summary")).to_contain_text("no signature requirement applies")
    # The reviewer has it scanned before deciding; the summary appears in the queue.
    await card.get_by_role("button", name="Scan now").click()
    await expect(console.page.locator("#toast")).to_contain_text("Scan queued")
    for _ in range(50):
        await console.open("/quarantine")
        if (await card.locator(".scan-summary").inner_text()) != "No finished scan.":
            break
        await asyncio.sleep(0.1)
    await expect(card.locator(".scan-summary")).to_contain_text("0 findings — builtin")
    await console.shot("quarantine")

    await card.get_by_role("button", name="Release…").click()
    dialog = console.page.locator("dialog#confirm")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Release this image?")
    # Cancelling changes nothing.
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await card.get_by_role("button", name="Release…").click()
    await dialog.get_by_label("Reason (for the audit log)").fill("reviewed the Dockerfile and the base image")
    await dialog.get_by_label("Exception expires (optional)").fill("2099-01-01T12:00")
    await console.shot("quarantine-release-dialog")
    await dialog.get_by_role("button", name="Release").click()
    await expect(dialog).to_be_hidden()
    await expect(console.page.locator("#toast")).to_contain_text("Released")
    await expect(entries).to_have_count(1)  # the pending queue no longer lists it

    await skopeo_copy(source, f"dir:{tmp_path / 'after'}")
    assert (tmp_path / "after" / "manifest.json").exists()
    released = (await world.admin.get("/quarantine", status="released")).json["items"]
    assert [(e["repository"], e["reviewed_by"], e["review_reason"]) for e in released] == [
        ("held/app", "token:ci-admin", "reviewed the Dockerfile and the base image")
    ]
    assert released[0]["expires_at"].startswith("2099-01-01")

    await console.page.locator("#quarantine-status").select_option("released")
    await expect(console.page.locator("#quarantine-list")).to_contain_text("reviewed the Dockerfile")
    await console.shot("quarantine-released")

    # The last one is rejected: the dialog asks again, and the image stays denied.
    await console.open("/quarantine")
    await entries.first.get_by_role("button", name="Reject…").click()
    await dialog.get_by_label("Reason (for the audit log)").fill("unknown base image")
    await dialog.get_by_role("button", name="Reject").click()
    await expect(console.page.locator("#quarantine-list")).to_contain_text("Nothing here.")
    denied = await world.pull("held/other", "1")
    assert denied.status == 403 and "rejected by token:ci-admin" in denied.error["message"]


async def test_an_auditor_sees_the_queue_but_cannot_release(
    make_world: MakeWorld, open_console: OpenConsole
) -> None:
    world = await make_world(POLICY)
    await world.push("held/app", "1")
    assert (await world.pull("held/app", "1")).status == 403
    entry = (await world.admin.get("/quarantine")).json["items"][0]

    auditor = await open_console(world)
    await auditor.login(world.auditor.token or "")
    await expect(auditor.page.locator("#who-name")).to_have_text("ci-auditor (auditor)")
    await auditor.open("/quarantine")
    card = auditor.page.locator("#quarantine-list li.entry")
    await expect(card).to_have_count(1)
    await expect(card.locator(".why")).to_contain_text("review-new")
    await expect(auditor.page.get_by_role("button", name="Release…")).to_have_count(0)
    await expect(auditor.page.get_by_role("button", name="Reject…")).to_have_count(0)
    await auditor.shot("quarantine-auditor")
    # No write controls elsewhere either (the dry run only reads: it stays).
    await auditor.open("/rules")
    await expect(auditor.page.locator("#rule-form")).to_have_count(0)
    await expect(auditor.page.get_by_role("button", name="Delete")).to_have_count(0)
    await expect(auditor.page.locator("#dry-run-form")).to_be_visible()
    await auditor.open("/trust")
    await expect(auditor.page.locator("#trust-form")).to_have_count(0)

    # Forcing the call from the auditor's own session: the API refuses it.
    answer = await auditor.page.evaluate(
        """async (id) => {
            const response = await fetch(`/api/v1/quarantine/${id}/release`, {
                method: "POST",
                headers: {"Authorization": `Bearer ${sessionStorage.getItem("pullgate.token")}`,
                          "Content-Type": "application/json"},
                body: JSON.stringify({reason: "forced"}),
            });
            return {status: response.status, body: await response.json()};
        }""",
        entry["id"],
    )
    assert answer["status"] == 403 and answer["body"]["error"]["code"] == "forbidden"
    assert (await world.admin.get(f"/quarantine/{entry['id']}")).json["status"] == "pending"

    # On a phone the queue still fits, and an admin's release button is on screen.
    phone = await open_console(world, NARROW)
    await phone.login(world.admin.token or "")
    await phone.open("/quarantine")
    release = phone.page.get_by_role("button", name="Release…")
    await release.scroll_into_view_if_needed()
    box = await release.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"]
    await phone.no_horizontal_scroll()
    await phone.shot("quarantine-narrow")
