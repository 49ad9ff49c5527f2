"""Rules and trust material from the browser: create with a validation error shown beside
its field, fix, edit, delete; a dry run; trust material stored and refused; and markup in
attacker-influenced text (rule descriptions, review reasons) shown as text, never run."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.console.conftest import OpenConsole
from tests.integration.admin.conftest import MakeWorld
from tests.support.cosign import generate_key, public_pem

POLICY = """
default_action: allow
rules:
  - {id: hold, match: {repository: "held/*"}, action: quarantine}
signature_requirements:
  - id: team-signed
    match: {repository: "team/**"}
    authorities: [{name: ci, key: {trust: ci-key}}]
"""
MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


async def test_rules_are_created_fixed_edited_and_deleted(
    make_world: MakeWorld, open_console: OpenConsole
) -> None:
    world = await make_world(POLICY)
    await world.push("ok/app", "1")
    console = await open_console(world)
    await console.login(world.admin.token or "")
    await console.open("/rules")
    page = console.page
    form = page.locator("#rule-form")
    await form.get_by_label("ID").fill("no-latest")
    await form.get_by_label("Match: repository").fill("ok/*")
    await form.get_by_label("Match: tag regex").fill("(unclosed")
    await form.get_by_label("Action").select_option("deny")
    await form.get_by_label("Description").fill("pin a version")
    await form.get_by_role("button", name="Create rule").click()
    error = page.locator("#rule-match-tag_regex-error")
    await expect(error).to_contain_text("not a valid")
    await expect(form.get_by_label("Match: tag regex")).to_have_attribute("aria-invalid", "true")
    await console.shot("rules-invalid")
    assert (await world.admin.get("/rules/no-latest")).status == 404  # nothing stored

    await form.get_by_label("Match: tag regex").fill("")
    await form.get_by_label("Match: tag", exact=True).fill("latest")
    await form.get_by_role("button", name="Create rule").click()
    row = page.locator("#rules tbody tr", has_text="no-latest")
    await expect(row).to_contain_text("pin a version")
    await expect(page.locator("#toast")).to_contain_text("created")

    await row.get_by_role("link", name="Edit rule no-latest").click()
    edit = page.locator("#rule-form")
    await expect(edit.get_by_label("ID")).to_have_value("no-latest")
    await edit.get_by_label("Description").fill("pin a version, always")
    await edit.get_by_label("Mode").select_option("warn")
    await console.shot("rules-edit")
    await edit.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#rules tbody tr", has_text="no-latest")).to_contain_text(
        "pin a version, always"
    )
    stored = (await world.admin.get("/rules/no-latest")).json
    assert (stored["mode"], stored["revision"], stored["match"]["tag"]) == ("warn", 2, "latest")

    # A dry run says what a pull would get, and records nothing.
    dry = page.locator("#dry-run-form")
    await dry.get_by_label("Image reference").fill(f"{world.upstream_name}/ok/app:1")
    await dry.get_by_role("button", name="What would happen?").click()
    await expect(page.locator("#dry-run-result")).to_contain_text("allowed")
    await dry.get_by_label("Image reference").fill("nowhere.example/ok/app:1")
    await dry.get_by_role("button", name="What would happen?").click()
    await expect(page.locator("#dry-run-image-error")).to_contain_text("upstream")
    await dry.get_by_label("Image reference").fill(f"{world.upstream_name}/ok/app:1")
    await dry.get_by_role("button", name="What would happen?").click()
    await expect(page.locator("#dry-run-result")).to_contain_text("allowed")
    await console.shot("rules")
    assert (await world.admin.get("/audit", kind="pull")).json["items"] == []

    await (
        page.locator("#rules tbody tr", has_text="no-latest")
        .get_by_role("button", name="Delete rule no-latest")
        .click()
    )
    await page.locator("dialog#confirm").get_by_role("button", name="Delete").click()
    await expect(page.locator("#rules tbody")).not_to_contain_text("no-latest")
    assert (await world.admin.get("/rules/no-latest")).status == 404


async def test_trust_material_is_stored_and_a_bad_key_refused(
    make_world: MakeWorld, open_console: OpenConsole
) -> None:
    world = await make_world(POLICY)
    console = await open_console(world)
    await console.login(world.admin.token or "")
    await console.open("/trust")
    page = console.page
    await expect(page.locator("#requirements")).to_contain_text("team-signed")
    form = page.locator("#trust-form")
    await form.get_by_label("Name").fill("ci-key")
    await form.get_by_label("Content").fill(
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"
    )
    await form.get_by_role("button", name="Store").click()
    await expect(page.locator("#trust-body-error")).to_contain_text("public_key 'ci-key'")
    assert (await world.admin.get("/trust")).json["items"] == []

    pem = public_pem(generate_key("p256"))
    await form.get_by_label("Content").fill(pem)
    await form.get_by_role("button", name="Store").click()
    row = page.locator("#trust tbody tr", has_text="ci-key")
    await expect(row).to_contain_text("public_key")
    await row.get_by_role("button", name="Show ci-key").click()
    await expect(page.locator("#trust-content pre")).to_contain_text("BEGIN PUBLIC KEY")
    await console.shot("trust")
    assert (await world.admin.get("/trust/ci-key")).json["content"] == pem


async def test_markup_in_api_strings_is_shown_as_text(
    make_world: MakeWorld, open_console: OpenConsole
) -> None:
    policy = f"""
default_action: allow
rules:
  - id: evil
    match: {{repository: "bad/*"}}
    action: deny
    description: '{MARKUP}'
    owner: '<b>owner</b>'
  - {{id: hold, match: {{repository: "held/*"}}, action: quarantine}}
"""
    world = await make_world(policy)
    await world.push("bad/app", "1")
    await world.push("held/app", "1")
    denied = await world.pull("bad/app", "1")
    assert denied.status == 403
    assert (await world.pull("held/app", "1")).status == 403
    entry = (await world.admin.get("/quarantine")).json["items"][0]
    released = await world.admin.post(f"/quarantine/{entry['id']}/release", {"reason": MARKUP})
    assert released.status == 200

    console = await open_console(world)
    await console.login(world.admin.token or "")
    page = console.page
    pages = [
        ("/overview", "#top-reasons"),
        (f"/decisions/{denied.error['detail']['decision_id']}", "#checks"),
        ("/rules", "#rules"),
        ("/quarantine?status=released", "#quarantine-list"),
    ]
    for route, where in pages:
        await console.open(route)
        await expect(page.locator(where)).to_contain_text(MARKUP)  # the characters, as typed
        assert await page.locator(f"{where} img, {where} script, {where} b").count() == 0, route
    await console.shot("markup-as-text")
    assert await page.evaluate("() => window.__pwned") is None
