// The console's shell: login, navigation, the page router and the shared dialogs.
//
// Routes are URL hashes, so every page has a stable address that can be shared and that the
// server never needs to know about: #/decisions/<id> is where a denial's decision id leads.
import { ApiError, token, whenUnauthorized, whoami } from "./api.js";
import { clear, h } from "./dom.js";
import { loginPage } from "./pages/login.js";
import { errorBox, go, parseRoute } from "./shell.js";

const PAGES = {
  overview: () => import("./pages/overview.js"),
  quarantine: () => import("./pages/quarantine.js"),
  decisions: () => import("./pages/decisions.js"),
  images: () => import("./pages/images.js"),
  rules: () => import("./pages/rules.js"),
  trust: () => import("./pages/trust.js"),
};
const TITLES = {
  overview: "Overview",
  quarantine: "Quarantine queue",
  decisions: "Decisions",
  images: "Images",
  rules: "Rules",
  trust: "Trust material",
};

/** Who is logged in (the answer of GET /whoami); handed to every page. */
const session = { me: null };

const main = () => document.getElementById("main");

async function render() {
  const root = main();
  if (!token.get()) {
    showShell(false);
    clear(root).append(loginPage(afterLogin));
    document.title = "Log in · pullgate console";
    return;
  }
  if (!session.me) {
    try {
      session.me = await whoami();
    } catch (error) {
      token.clear();
      showShell(false);
      clear(root).append(loginPage(afterLogin, error instanceof ApiError ? error.message : String(error)));
      return;
    }
  }
  showShell(true);
  const hash = window.location.hash;
  const route = parseRoute(hash);
  const load = PAGES[route.page];
  markCurrent(route.page);
  if (!load) {
    clear(root).append(h("h1", {}, "Not found"), h("p", {}, "No such page in the console."));
    return;
  }
  document.title = `${TITLES[route.page]} · pullgate console`;
  clear(root).append(h("p", { class: "loading" }, "Loading…"));
  try {
    const module = await load();
    const page = await module.render(route, session);
    if (window.location.hash === hash) clear(root).append(page); // not navigated away meanwhile
  } catch (error) {
    clear(root).append(h("h1", {}, TITLES[route.page]), errorBox(error));
  }
}

function afterLogin(me) {
  session.me = me;
  if (parseRoute().page === "login") go("#/overview");
  else render();
}

function logout() {
  token.clear();
  session.me = null;
  go("#/overview");
}

function showShell(loggedIn) {
  document.getElementById("nav").hidden = !loggedIn;
  document.getElementById("who").hidden = !loggedIn;
  document.getElementById("menu-toggle").hidden = !loggedIn;
  if (loggedIn && session.me) {
    const { name, role } = session.me;
    document.getElementById("who-name").textContent = `${name} (${role})`;
  }
}

function markCurrent(page) {
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  closeMenu();
}

function closeMenu() {
  document.getElementById("nav").classList.remove("open");
  document.getElementById("menu-toggle").setAttribute("aria-expanded", "false");
}

function start() {
  whenUnauthorized(() => {
    token.clear();
    session.me = null;
    render();
  });
  window.addEventListener("hashchange", render);
  document.getElementById("logout").addEventListener("click", logout);
  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault();
    main().focus();
  });
  document.getElementById("menu-toggle").addEventListener("click", () => {
    const nav = document.getElementById("nav");
    const open = nav.classList.toggle("open");
    document.getElementById("menu-toggle").setAttribute("aria-expanded", String(open));
  });
  render();
}

start();
