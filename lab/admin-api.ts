/**
 * Lab admin and fault injection (/lab/v1): inject Xids and other faults, seed
 * allocations, reset the world, read what the engine did. Bearer lab token on
 * every route, as the platform API; it exists only where the lab runs.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { sendError, sendInvalid } from './http-errors';
import { formatLine, MAX_NOISE_BYTES, RECOVERY_ACTIONS, type KernelLine, type RecoveryAction } from './kernel-log';
import { bearerOk } from './platform-api';
import { NodeCordonedError } from './platform-state';
import type { LabHost, LabWorld } from './world';

const XidBody = z
  .object({
    gpu_index: z.number().int().min(0),
    xid: z.number().int().min(1).max(999),
    persistent: z.boolean().default(false),
    recovery_action: z.enum(Object.keys(RECOVERY_ACTIONS) as [RecoveryAction, ...RecoveryAction[]]).optional(),
  })
  .strict();
const GpuBody = z.object({ gpu_index: z.number().int().min(0) }).strict();
/** A process name as the kernel keeps it (comm: at most 15 characters). */
const GpuProcessBody = z
  .object({
    gpu_index: z.number().int().min(0),
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.:+-]{1,15}$/, 'expected a process name (comm), 1-15 characters')
      .default('python3'),
  })
  .strict();
const DropBody = z.object({ command_prefix: z.string().min(1).max(200), count: z.number().int().min(1).max(1000).default(1) }).strict();
const NoiseBody = z.object({ bytes: z.number().int().min(1).max(MAX_NOISE_BYTES) }).strict();
const EmptyBody = z.object({}).strict();
const DriverBody = z.object({ driver_version: z.string().regex(/^\d+\.\d+(\.\d+)?$/) }).strict();
const SeedBody = z.object({ count: z.number().int().min(1).max(64).default(1) }).strict();
const NodeParams = z.object({ node_id: z.string() });
const RecordsQuery = z.object({ node_id: z.string().optional() });

export function registerAdminApi(app: FastifyInstance, world: LabWorld, token: string): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/lab/')) return;
    if (!bearerOk(req, token)) {
      reply.header('www-authenticate', 'Bearer realm="gpuaas-lab"');
      return sendError(reply, 401, 'unauthorized', 'the lab API needs the lab token');
    }
  });

  const hostOf = (params: unknown): LabHost | undefined => world.hosts.get(NodeParams.parse(params).node_id);
  const noHost = (params: unknown) => `no host ${NodeParams.parse(params).node_id}`;

  /** The journal line as `journalctl -o short-iso-precise` prints it, without the newline. */
  const journalLine = (host: LabHost, line: KernelLine) => formatLine('short-iso-precise', host.spec.hostname, line).trimEnd();

  app.post('/lab/v1/hosts/:node_id/faults/xid', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const body = XidBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    if (!host.state.gpu(body.data.gpu_index)) {
      return sendError(reply, 400, 'invalid_request', `${host.spec.node_id} has no GPU ${body.data.gpu_index}`);
    }
    const { gpu_index, xid, persistent, recovery_action } = body.data;
    const logged = host.state.injectXid(gpu_index, xid, persistent, new Date(), recovery_action);
    return {
      node_id: host.spec.node_id,
      gpu_index,
      xid,
      persistent,
      recovery_action: recovery_action ?? null,
      kernel_line: journalLine(host, logged[0]!),
      kernel_lines: logged.map((l) => journalLine(host, l)),
    };
  });

  app.post('/lab/v1/hosts/:node_id/faults/gpu-process', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const body = GpuProcessBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    if (!host.state.gpu(body.data.gpu_index)) {
      return sendError(reply, 400, 'invalid_request', `${host.spec.node_id} has no GPU ${body.data.gpu_index}`);
    }
    const stray = host.state.holdGpu(body.data.gpu_index, body.data.name);
    return { node_id: host.spec.node_id, ...stray };
  });

  app.post('/lab/v1/hosts/:node_id/faults/diag-omit-gpu', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const body = GpuBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    if (!host.state.gpu(body.data.gpu_index)) {
      return sendError(reply, 400, 'invalid_request', `${host.spec.node_id} has no GPU ${body.data.gpu_index}`);
    }
    host.state.omitFromDiag(body.data.gpu_index);
    return { node_id: host.spec.node_id, gpu_index: body.data.gpu_index, diag_omitted: true };
  });

  app.post('/lab/v1/hosts/:node_id/faults/drop-connection', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host?.runtime) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const body = DropBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    host.runtime.addDropConnection(body.data.command_prefix, body.data.count);
    return { node_id: host.spec.node_id, command_prefix: body.data.command_prefix, count: body.data.count };
  });

  app.post('/lab/v1/hosts/:node_id/kernel-noise', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const body = NoiseBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    const added = host.state.kernelLog.appendNoise(new Date(), body.data.bytes);
    return { node_id: host.spec.node_id, ...added, kernel_log_lines: host.state.kernelLog.lineCount };
  });

  app.post('/lab/v1/hosts/:node_id/faults/diag-fail', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const body = GpuBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    if (!host.state.gpu(body.data.gpu_index)) {
      return sendError(reply, 400, 'invalid_request', `${host.spec.node_id} has no GPU ${body.data.gpu_index}`);
    }
    host.state.injectDiagFail(body.data.gpu_index);
    return { node_id: host.spec.node_id, gpu_index: body.data.gpu_index, diag_fail: true };
  });

  app.post('/lab/v1/hosts/:node_id/faults/dcgm-down', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host?.state.isWorker) return sendError(reply, 404, 'node_not_found', `no GPU host ${NodeParams.parse(req.params).node_id}`);
    const body = EmptyBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    host.state.hostEngineDown = true;
    return { node_id: host.spec.node_id, host_engine_down: true };
  });

  app.post('/lab/v1/hosts/:node_id/faults/driver-install-fails', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host?.state.isWorker) return sendError(reply, 404, 'node_not_found', `no GPU host ${NodeParams.parse(req.params).node_id}`);
    const body = EmptyBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    host.state.driverInstallFails = true;
    return { node_id: host.spec.node_id, driver_install_fails: true };
  });

  app.post('/lab/v1/hosts/:node_id/faults/driver-fails-diag', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host?.state.isWorker) return sendError(reply, 404, 'node_not_found', `no GPU host ${NodeParams.parse(req.params).node_id}`);
    const body = DriverBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    host.state.driverFailsDiag = body.data.driver_version;
    return { node_id: host.spec.node_id, driver_fails_diag: body.data.driver_version };
  });

  app.post('/lab/v1/hosts/:node_id/faults/boot-hang', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host?.ssh) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const body = EmptyBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    host.ssh.hangNextBoot();
    return { node_id: host.spec.node_id, boot_hang: true };
  });

  app.post('/lab/v1/hosts/:node_id/faults/stuck-drain', async (req, reply) => {
    const nodeId = NodeParams.parse(req.params).node_id;
    if (!world.platform.has(nodeId)) return sendError(reply, 404, 'node_not_found', `no compute node ${nodeId}`);
    const body = EmptyBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    world.platform.setStuckDrain(nodeId);
    return { node_id: nodeId, stuck_drain: true };
  });

  app.post('/lab/v1/hosts/:node_id/allocations', async (req, reply) => {
    const nodeId = NodeParams.parse(req.params).node_id;
    if (!world.platform.has(nodeId)) return sendError(reply, 404, 'node_not_found', `no compute node ${nodeId}`);
    const body = SeedBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    try {
      const added = world.platform.seedAllocations(nodeId, body.data.count);
      return reply.code(201).send({ node_id: nodeId, allocations: added });
    } catch (err) {
      if (err instanceof NodeCordonedError) return sendError(reply, 409, 'node_cordoned', err.message);
      throw err;
    }
  });

  app.post('/lab/v1/reset', async () => {
    await world.reset();
    return { reset: true };
  });

  app.get('/lab/v1/records', async (req, reply) => {
    const q = RecordsQuery.safeParse(req.query ?? {});
    if (!q.success) return sendInvalid(reply, q.error);
    return world.records.list(q.data.node_id);
  });

  app.get('/lab/v1/rma-tickets', async () => ({ tickets: world.platform.listTickets() }));

  app.get('/lab/v1/hosts/:node_id/state', async (req, reply) => {
    const host = hostOf(req.params);
    if (!host) return sendError(reply, 404, 'node_not_found', noHost(req.params));
    const nodeId = host.spec.node_id;
    return {
      ...host.state.snapshot(),
      runtime: host.runtime?.snapshot() ?? null,
      ssh: { port: host.ssh?.port ?? null, rebooting: host.ssh?.rebooting ?? false },
      platform: world.platform.has(nodeId)
        ? { node: world.platform.node(nodeId), allocations: world.platform.allocations(nodeId), stuck_drain: world.platform.stuckDrain(nodeId) }
        : null,
    };
  });
}
