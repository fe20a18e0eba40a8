/**
 * The engine reaches a secured Temporal frontend: TLS with a private CA and a client
 * certificate (mTLS), for both the client and the worker's native connection. The
 * dev server has no TLS of its own, so a TLS-terminating proxy that demands a client
 * certificate from our CA stands in front of it, as a secured frontend (or a mesh
 * sidecar) would.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Secret } from '../../config';
import { connectTemporal, temporalConnectionSecurity } from '../../runtime/bootstrap';
import { testEnv } from '../support/test-env';

const SERVER_NAME = 'temporal.test';
let dir: string;
let proxy: tls.Server;
let proxyAddress: string;

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const file = (name: string) => path.join(dir, name);

/** A certificate `ca` signs for `cn`: X.509 v3 (rustls takes nothing older), for a server (with its name) or a client. */
function issue(ca: string, name: string, cn: string, serverName?: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  const ext = serverName ? [`subjectAltName=DNS:${serverName}`, 'extendedKeyUsage=serverAuth'] : ['extendedKeyUsage=clientAuth'];
  fs.writeFileSync(file(`${name}.ext`), ['basicConstraints=CA:FALSE', ...ext, ''].join('\n'));
  const sign = ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial'];
  openssl(...sign, '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
}

function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
  );
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
  makeCa('ca');
  makeCa('stranger-ca');
  issue('ca', 'server', SERVER_NAME, SERVER_NAME);
  issue('ca', 'engine', 'gpuaas-runbooks');
  issue('stranger-ca', 'stranger', 'gpuaas-runbooks');

  const [host, port] = testEnv('temporalAddress').split(':');
  proxy = tls.createServer(
    {
      key: fs.readFileSync(file('server.key')),
      cert: fs.readFileSync(file('server.pem')),
      ca: fs.readFileSync(file('ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      const upstream = net.connect(Number(port), host!);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    },
  );
  proxy.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyAddress = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('with the CA and a client certificate, the client and the worker connection both work through mTLS', async () => {
  const temporal = await connectTemporal(proxyAddress, 'default', {
    tls: { caFile: file('ca.pem'), certFile: file('engine.pem'), keyFile: file('engine.key'), serverName: SERVER_NAME },
  });
  try {
    const info = await temporal.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^\d+\.\d+/);
    expect(typeof (await temporal.client.workflow.count()).count).toBe('number');
    await expect(temporal.nativeConnection.workflowService.getSystemInfo({})).resolves.toBeDefined();
  } finally {
    await temporal.close();
  }
});

test('without a client certificate, or with one from another CA, the frontend refuses the connection', async () => {
  const attempts = {
    'no client certificate': temporalConnectionSecurity({ tls: { caFile: file('ca.pem'), serverName: SERVER_NAME } }),
    'a certificate from another CA': temporalConnectionSecurity({
      tls: { caFile: file('ca.pem'), certFile: file('stranger.pem'), keyFile: file('stranger.key'), serverName: SERVER_NAME },
    }),
  };
  for (const [what, secured] of Object.entries(attempts)) {
    const failed = await Connection.connect({ address: proxyAddress, ...secured, connectTimeout: '3s' }).then(
      async (c) => {
        // A lazy handshake failure shows on the first call.
        try {
          await c.workflowService.getSystemInfo({});
          return false;
        } catch {
          return true;
        } finally {
          await c.close();
        }
      },
      () => true,
    );
    expect({ what, failed }).toEqual({ what, failed: true });
    const native = await NativeConnection.connect({ address: proxyAddress, ...secured }).then(
      async (c) => {
        await c.close();
        return false;
      },
      () => true,
    );
    expect({ what, native_failed: native }).toEqual({ what, native_failed: true });
  }
});

test('plaintext to the TLS frontend fails too; the API key rides along as configured', async () => {
  const plain = await Connection.connect({ address: proxyAddress, connectTimeout: '3s' }).then(
    async (c) => {
      await c.close();
      return false;
    },
    () => true,
  );
  expect(plain).toBe(true);
  expect(temporalConnectionSecurity({ apiKey: new Secret('k-123') })).toEqual({ apiKey: 'k-123' });
  expect(temporalConnectionSecurity({})).toEqual({});
});
