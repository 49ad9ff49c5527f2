// Building the page from data: DOM nodes only, never HTML strings.
//
// Image names, rule descriptions and denial reasons come from the API and are partly chosen by
// whoever names an image upstream; they are always set as text (textContent), so markup in
// them is shown, not run. No HTML parsing API is used anywhere in the console (a unit test
// checks the files for them).

/**
 * h("a", {href: "#/x", class: "link"}, "text", child) — an element with attributes and
 * children. Keys starting with "on" add event listeners; `false`/`null` attributes are left
 * out; strings and numbers become text nodes; arrays are flattened.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`${name} must be a function, not markup`);
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** A table in a scrolling wrapper (wide tables never widen the page). */
export function table(caption, headers, rows, options = {}) {
  const head = h("tr", {}, headers.map((header) => th(header)));
  const body = rows.length
    ? rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))
    : [h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, options.empty || "Nothing to show."))];
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h("table", { id: options.id }, h("caption", { class: options.showCaption ? "" : "visually-hidden" }, caption),
      h("thead", {}, head), h("tbody", {}, body)),
  );
}

function th(header) {
  if (header instanceof Node) return h("th", { scope: "col" }, header);
  return h("th", { scope: "col" }, header);
}

/** A labelled form field; returns {wrap, input, error}. */
export function field(id, label, input, hint) {
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const hintNode = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  input.setAttribute("aria-describedby", [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" "));
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input, hintNode, error);
  return { wrap, input, error };
}

export function setError(fieldParts, message) {
  fieldParts.error.textContent = message || "";
  if (message) fieldParts.input.setAttribute("aria-invalid", "true");
  else fieldParts.input.removeAttribute("aria-invalid");
}

export function select(options, value) {
  const element = h("select");
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    element.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return element;
}

export function definitions(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), children);
}
