/** The exporter's HTTP server: GET /metrics answers a fresh scrape; listen failures become one-line errors. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { log } from '../log.js';
import { authority, type ListenAddress } from './listen.js';
import type { Exporter } from './registry.js';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Why a listen failed, in words, with what to do. */
function listenError(e: NodeJS.ErrnoException, where: string): Error {
  const why: Record<string, string> = {
    EADDRINUSE: 'another process listens there; stop it or give another --listen HOST:PORT',
    EADDRNOTAVAIL: 'no interface of this host has that address; give one it has (127.0.0.1: this host only)',
    EACCES: 'not permitted (a port below 1024 needs root); give another --listen HOST:PORT',
    EAFNOSUPPORT: 'this host has no IPv6; give an IPv4 address',
  };
  return new Error(`gpumem exporter: cannot listen on ${where}: ${why[e.code ?? ''] ?? e.message}`);
}

export function startServer(exporter: Exporter, at: ListenAddress): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('gpumem exporter: only GET /metrics\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('gpumem exporter: the metrics are at /metrics\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`gpumem exporter: no ${path}; the metrics are at /metrics\n`);
      return;
    }
    exporter.scrape().then(
      (text) => res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : text),
      (e: Error) => {
        log().warn({ err: e.message }, `gpumem exporter: a scrape failed: ${e.message}`);
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`gpumem exporter: ${e.message}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(listenError(e as NodeJS.ErrnoException, authority(at))));
    server.listen(at.port, at.host, () => {
      const a = server.address() as AddressInfo;
      resolve({ server, address: authority({ host: a.address, port: a.port }) });
    });
  });
}
