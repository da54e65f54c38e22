// client.js is the page's side of the worker protocol (worker.js lists the messages): it starts the lead Web Worker,
// sends typed messages {type, payload}, and hands each reply to the handlers registered for its type.

let worker = null;
const handlers = new Map(); // type -> [fn]

// on registers fn for the worker's messages of type; handlers run in the order they were registered.
export function on(type, fn) {
  if (!handlers.has(type)) handlers.set(type, []);
  handlers.get(type).push(fn);
}

export function send(type, payload) {
  worker.postMessage({ type, payload });
}

// start launches worker.js and asks it to load the engine and the base model; fail(message) reports what went wrong
// before any message could arrive.
export function start(init, fail) {
  try {
    worker = new Worker("worker.js");
  } catch (err) {
    fail(`Could not start the Web Worker: ${err.message}`);
    return;
  }
  worker.onmessage = (e) => {
    const { type, payload } = e.data;
    for (const fn of handlers.get(type) || []) fn(payload);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    fail(`The worker failed: ${e.message || "could not load worker.js or wasm_exec.js"}`);
  };
  send("init", init);
}
