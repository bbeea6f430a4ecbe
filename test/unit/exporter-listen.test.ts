// gpumem exporter --listen: the addresses an operator writes are taken as they mean them, and
// anything else is refused in one line that names the value and what is accepted.
import t from 'tap';
import { DEFAULT_LISTEN, authority, parseListen } from '../../lib/metrics/listen.js';

t.test('the default is this host only, port 9400', async (t) => {
  t.equal(DEFAULT_LISTEN, '127.0.0.1:9400');
  t.same(parseListen(DEFAULT_LISTEN), { host: '127.0.0.1', port: 9400 });
});

t.test('IPv4, IPv6 in brackets and localhost are taken; port 0 is any free port', async (t) => {
  t.same(parseListen('0.0.0.0:9400'), { host: '0.0.0.0', port: 9400 });
  t.same(parseListen('[::1]:9400'), { host: '::1', port: 9400 });
  t.same(parseListen('[::]:0'), { host: '::', port: 0 });
  t.same(parseListen('localhost:65535'), { host: 'localhost', port: 65535 });
  t.equal(authority(parseListen('[::1]:9400')), '[::1]:9400', 'shown back as written');
});

t.test('anything else is refused in one line naming the value and what is accepted', async (t) => {
  for (const [listen, why] of [
    ['9400', 'has no :PORT'],
    ['', 'has no :PORT'],
    [':9400', 'has no host'],
    ['127.0.0.1:', 'has port "", not a number 0-65535'],
    ['127.0.0.1:65536', 'has port "65536", not a number 0-65535'],
    ['127.0.0.1:-1', 'has port "-1", not a number 0-65535'],
    ['127.0.0.1:http', 'has port "http", not a number 0-65535'],
    ['256.0.0.1:9400', 'has host "256.0.0.1", not an IP address'],
    ['example.com:9400', 'has host "example.com", not an IP address'],
    ['::1:9400', 'is not HOST:PORT'],
    ['[127.0.0.1]:9400', 'has no IPv6 address in brackets'],
    ['127.0.0.1:9400\nx', 'has port "9400\\nx", not a number 0-65535'],
  ]) {
    let message = '';
    try {
      parseListen(listen as string);
    } catch (e) {
      message = (e as Error).message;
    }
    t.equal(message, `gpumem: --listen ${JSON.stringify(listen)} ${why} (accepted: IPv4:PORT, [IPv6]:PORT or localhost:PORT, PORT 0-65535 (0: any free port), e.g. 127.0.0.1:9400 or [::1]:9400)`, JSON.stringify(listen));
    t.notOk(message.includes('\n'), 'on one line');
  }
});
