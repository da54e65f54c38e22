// dom.js holds the few DOM helpers every panel uses: find by id, set text only when it changes, build an element.

export function $(id) { return document.getElementById(id); }

// setText writes text into el (an element or its id) only when it differs, so a render per frame costs no layout.
export function setText(el, text) {
  if (typeof el === "string") el = $(el);
  if (el.textContent !== text) el.textContent = text;
}

// el builds an element: el("td", {class: "num", text: "4", title: "..."}, ...children).
export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

// keyed re-renders a container only when sig changes (a table's rows, a list): render() runs every frame.
export function keyed(container, sig, build) {
  if (container.dataset.sig === sig) return;
  container.dataset.sig = sig;
  container.replaceChildren(...build());
}
