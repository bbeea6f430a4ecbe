/**
 * The Docker names of the host's containers, by id, from one GET /containers/json?all=1 to the
 * local engine (the socket container-id.ts asks): for showing only, so an engine that is away,
 * slow or answers nonsense gives no names, never an error.
 */
import { engineGet } from './container-id.js';

/** Short: a listing must not wait on an engine that hangs; a name is a nicety. */
const TIMEOUT_MS = 1000;

/** id → name without docker's leading '/'; empty when the engine cannot be asked. */
export async function containerNames(env: NodeJS.ProcessEnv = process.env): Promise<Map<string, string>> {
  const r = await engineGet('/containers/json?all=1', TIMEOUT_MS, env);
  return 'unreachable' in r || r.status !== 200 ? new Map() : namesOf(r.body);
}

/** The engine's answer read without trusting its shape: entries that are not {Id, Names: [..]} are skipped. */
export function namesOf(body: string): Map<string, string> {
  const out = new Map<string, string>();
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch {
    return out;
  }
  if (!Array.isArray(list)) return out;
  for (const c of list as { Id?: unknown; Names?: unknown }[]) {
    // A container's own name has no further '/' (those with one are legacy links' aliases).
    const name = Array.isArray(c?.Names) ? c.Names.find((n): n is string => typeof n === 'string' && /^\/[^/]+$/.test(n)) : undefined;
    if (typeof c?.Id === 'string' && name) out.set(c.Id, name.slice(1));
  }
  return out;
}
