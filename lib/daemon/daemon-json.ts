/** Pure edits of dockerd's daemon.json: register gpumem as a runtime (and maybe the default), and take it back out. */

export const RUNTIME_NAME = 'gpumem';

export type DaemonJson = Record<string, unknown>;

/** daemon.json that gpumem refuses to edit; the file is left as it was. */
export class DaemonJsonError extends Error {
  override name = 'DaemonJsonError';
}

/** Parses daemon.json text strictly, as dockerd does; an empty or missing file is `{}`. */
export function parseDaemonJson(text: string | undefined, path: string): DaemonJson {
  if (text === undefined || text.trim() === '') return {};
  if (/^\s*(\/\/|\/\*|#)/m.test(text)) {
    throw new DaemonJsonError(`gpumem: ${path} contains comments; dockerd accepts only plain JSON, so fix it first (nothing was changed)`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new DaemonJsonError(`gpumem: ${path} is not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')}); fix it first (nothing was changed)`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new DaemonJsonError(`gpumem: ${path} must hold a JSON object like {"runtimes": {...}}; fix it first (nothing was changed)`);
  }
  return v as DaemonJson;
}

function runtimesOf(config: DaemonJson, path: string): Record<string, unknown> {
  const r = config.runtimes;
  if (r === undefined) return {};
  if (typeof r !== 'object' || r === null || Array.isArray(r)) {
    throw new DaemonJsonError(`gpumem: "runtimes" in ${path} must be an object of {"name": {"path": ...}}; fix it first (nothing was changed)`);
  }
  return r as Record<string, unknown>;
}

export interface Registration {
  config: DaemonJson;
  /**
   * The runtime gpumem hands containers to: the previous default when that was another registered
   * runtime (e.g. nvidia), else undefined (plain runc).
   */
  lowerRuntimePath?: string;
}

/** Adds runtime `gpumem` at `runtimePath`; with `makeDefault`, makes it dockerd's default. Keeps every other key. */
export function register(config: DaemonJson, runtimePath: string, makeDefault: boolean, path: string): Registration {
  const runtimes = runtimesOf(config, path);
  const previousDefault = config['default-runtime'];
  let lowerRuntimePath: string | undefined;
  if (typeof previousDefault === 'string' && previousDefault !== RUNTIME_NAME && previousDefault !== 'runc') {
    const entry = runtimes[previousDefault] as { path?: unknown } | undefined;
    if (!entry || typeof entry.path !== 'string') {
      throw new DaemonJsonError(
        `gpumem: ${path} names default-runtime "${previousDefault}" but has no runtimes.${previousDefault}.path; fix it first (nothing was changed)`,
      );
    }
    lowerRuntimePath = entry.path;
  }
  const next: DaemonJson = { ...config, runtimes: { ...runtimes, [RUNTIME_NAME]: { path: runtimePath } } };
  if (makeDefault) next['default-runtime'] = RUNTIME_NAME;
  return lowerRuntimePath === undefined ? { config: next } : { config: next, lowerRuntimePath };
}

/** Removes what `register` added; `previousDefault` is what default-runtime was before (undefined: none). */
export function unregister(config: DaemonJson, previousDefault: string | undefined, path: string): DaemonJson {
  const runtimes = { ...runtimesOf(config, path) };
  delete runtimes[RUNTIME_NAME];
  const next: DaemonJson = { ...config };
  if (Object.keys(runtimes).length > 0) next.runtimes = runtimes;
  else delete next.runtimes;
  if (next['default-runtime'] === RUNTIME_NAME) {
    if (previousDefault === undefined) delete next['default-runtime'];
    else next['default-runtime'] = previousDefault;
  }
  return next;
}

export const formatDaemonJson = (config: DaemonJson): string => JSON.stringify(config, null, 2) + '\n';
