/** The exporter's --listen HOST:PORT, read into an address Node can listen on, or a one-line refusal (pure). */
import { isIP } from 'node:net';

export const DEFAULT_LISTEN = '127.0.0.1:9400';

const ACCEPTED = 'accepted: IPv4:PORT, [IPv6]:PORT or localhost:PORT, PORT 0-65535 (0: any free port), e.g. 127.0.0.1:9400 or [::1]:9400';

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(text: string): ListenAddress {
  const bad = (why: string): never => {
    throw new Error(`gpumem: --listen ${JSON.stringify(text)} ${why} (${ACCEPTED})`);
  };
  // [v6]:port, or the last colon (an IPv6 address without brackets is ambiguous: refused below).
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(text) ?? /^([^:[\]]*):([^:]*)$/.exec(text);
  if (!m) return bad(text.includes(':') ? 'is not HOST:PORT' : 'has no :PORT');
  const [, host, port] = m as unknown as [string, string, string];
  const bracketed = text.startsWith('[');
  if (host === '') return bad('has no host');
  if (bracketed ? isIP(host) !== 6 : host !== 'localhost' && isIP(host) !== 4) {
    return bad(bracketed ? 'has no IPv6 address in brackets' : `has host ${JSON.stringify(host)}, not an IP address`);
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return bad(`has port ${JSON.stringify(port)}, not a number 0-65535`);
  return { host, port: Number(port) };
}

/** host:port as a URL's authority: an IPv6 address in brackets. */
export const authority = (a: ListenAddress): string => (isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);
