// hash.js keeps the run's settings in the URL hash (#task=cipher&rank=8&autostart=1), so that a run can be shared and
// repeated. Only settings that differ from the defaults are written. Each value is read back by the type of its
// default (a number, true/false, a comma-separated list, or text), so a setting added to the engine's config needs
// nothing here.

// readHash returns {config: the settings found, autostart: whether the link asks to start at once}.
export function readHash(defaults) {
  const config = {};
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [k, d] of Object.entries(defaults)) {
    if (!params.has(k)) continue;
    const v = params.get(k);
    if (Array.isArray(d)) config[k] = v ? v.split(",").filter(Boolean) : [];
    else if (typeof d === "boolean") config[k] = v === "1" || v === "true";
    else if (typeof d === "number") config[k] = Number(v);
    else config[k] = v;
  }
  return { config, autostart: params.get("autostart") === "1" };
}

// writeHash records the settings of config that differ from defaults, in the defaults' order, replacing the current
// history entry (autostart=1 is dropped: a reload of the address shows the results instead of training again).
export function writeHash(config, defaults) {
  const params = new URLSearchParams();
  for (const [k, d] of Object.entries(defaults)) {
    const v = config[k];
    if (v === undefined || JSON.stringify(v) === JSON.stringify(d)) continue;
    if (Array.isArray(v)) params.set(k, v.join(","));
    else if (typeof v === "boolean") params.set(k, v ? "1" : "0");
    else params.set(k, String(v));
  }
  const h = params.toString();
  history.replaceState(null, "", h ? `#${h}` : location.pathname + location.search);
}
