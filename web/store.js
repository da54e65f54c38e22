// store.js keeps what outlives the tab in IndexedDB (database "golora"): the finished runs ("runs", by id), the run
// in progress ("inflight", key "current": its settings, curves and the engine's snapshot, saved as it trains) and the
// bases the user chose ("bases", by fingerprint: the files themselves, so that a run on one resumes after a reload). It also
// holds the Web Lock "golora-run" while this tab trains, so that another tab does not offer to resume a run that is
// not interrupted at all.

let dbPromise = null;

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      // Version 2 adds "inflight", version 3 "bases".
      const req = indexedDB.open("golora", 3);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains("runs")) d.createObjectStore("runs", { keyPath: "id" });
        if (!d.objectStoreNames.contains("inflight")) d.createObjectStore("inflight");
        if (!d.objectStoreNames.contains("bases")) d.createObjectStore("bases", { keyPath: "fingerprint" });
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

// KEPT_BASES is how many chosen bases the page keeps (the newest; and always the one an interrupted run needs).
export const KEPT_BASES = 3;

// saveBase keeps a chosen base {fingerprint, name, model: Blob, tokenizerName, tokenizer: Blob | null, bytes, time},
// then drops the oldest beyond KEPT_BASES, except keep (the fingerprint an interrupted run needs).
export async function saveBase(rec, keep) {
  await tx("readwrite", (s) => s.put(rec), "bases");
  const all = await listBases();
  const drop = all.filter((b) => b.fingerprint !== keep && b.fingerprint !== rec.fingerprint).slice(KEPT_BASES - 1);
  if (drop.length) await tx("readwrite", (s) => { for (const b of drop) s.delete(b.fingerprint); }, "bases");
}

// listBases returns the kept bases without their files, newest first.
export async function listBases() {
  const all = (await tx("readonly", (s) => s.getAll(), "bases")) || [];
  return all.sort((a, b) => b.time - a.time).map(({ model, tokenizer, ...meta }) => meta);
}

export function loadBase(fingerprint) { return tx("readonly", (s) => s.get(fingerprint), "bases"); }

export function deleteBase(fingerprint) { return tx("readwrite", (s) => s.delete(fingerprint), "bases"); }

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
