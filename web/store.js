// store.js keeps what outlives the tab in IndexedDB (database "golora"): the finished runs ("runs", by id) and the run
// in progress ("inflight", key "current": its settings, curves and the engine's snapshot, saved as it trains). It also
// holds the Web Lock "golora-run" while this tab trains, so that another tab does not offer to resume a run that is
// not interrupted at all.

let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      // Version 2 adds "inflight".
      const req = indexedDB.open("golora", 2);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains("runs")) d.createObjectStore("runs", { keyPath: "id" });
        if (!d.objectStoreNames.contains("inflight")) d.createObjectStore("inflight");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

// tx runs fn(objectStore) in one transaction and resolves with the result of the request fn returns, once committed.
export async function tx(mode, fn, store = "runs") {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(store, mode);
    const out = fn(t.objectStore(store));
    t.oncomplete = () => resolve(out && out.result);
    t.onerror = () => reject(t.error);
  });
}

// loadRuns returns the finished runs, newest first.
export async function loadRuns() {
  const all = await tx("readonly", (s) => s.getAll());
  return (all || []).sort((a, b) => b.time - a.time);
}

export function saveRun(rec) { return tx("readwrite", (s) => s.put(rec)); }

export function clearRuns() { return tx("readwrite", (s) => s.clear()); }

export function saveInflight(rec) { return tx("readwrite", (s) => s.put(rec, "current"), "inflight"); }

export function loadInflight() { return tx("readonly", (s) => s.get("current"), "inflight"); }

export function clearInflight() { return tx("readwrite", (s) => s.delete("current"), "inflight"); }

// The Web Lock held while this tab trains.
let runLock = null; // {release, dropped}

export function holdRunLock() {
  if (!navigator.locks || runLock) return;
  const lock = { release: null, dropped: false };
  runLock = lock;
  navigator.locks.request("golora-run", () => new Promise((resolve) => {
    if (lock.dropped) resolve();
    else lock.release = resolve;
  })).catch(() => {});
}

export function dropRunLock() {
  const lock = runLock;
  runLock = null;
  if (!lock) return;
  lock.dropped = true;
  if (lock.release) lock.release();
}

// runElsewhere reports whether another tab of the page holds the lock, that is, trains right now.
export async function runElsewhere() {
  if (!navigator.locks) return false;
  try {
    const { held } = await navigator.locks.query();
    return held.some((l) => l.name === "golora-run") && !runLock;
  } catch (err) {
    return false;
  }
}
