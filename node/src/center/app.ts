// The center: the service and admin HTTP API (Fastify). buildApp() is separate
// from listen() so tests can use inject(); every route has a JSON schema and
// every error leaves through one handler in the contract's shape.
import Fastify, { LogController, type FastifyError } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { KeeperError } from '../../../keeper/src/errors.js';
import type { ApiError } from './errors.js';
import { errorAnswer } from './error-answer.js';
import type { CenterDeps } from './deps.js';
import { appRoutes } from './routes-apps.js';
import { pushRoutes } from './routes-push.js';
import { opsRoutes } from './routes-ops.js';
import { clusterRoutes } from './routes-cluster.js';
import { keeperRoutes } from './routes-keeper.js';
import { settingsRoutes } from './routes-settings.js';
import { adminRoutes } from './routes-admin.js';
import { peerMethods } from '../peer/peer-methods.js';
import { LinkServer } from '../peer/link-server.js';
import { adminTokenRoutes } from './routes-admin-tokens.js';
import { captureJsonBodies } from './raw-body.js';
import type { TlsPair } from '../server-tls.js';
import type { Logger } from '../logger.js';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { KEEPER_WIRE_PATH } from '../../../keeper/src/keeper-wire.js';
import { KeeperOps } from './keeper-ops.js';
import { KeeperWireServer, type KeeperWireLimits } from './keeper-wire-server.js';

/** On close, requests in flight get this long to finish; then every connection is closed. */
export const CLOSE_GRACE_MS = 2000;

/** Longest URL parameter the router passes to a route (raw, percent-encoded): 256 characters of 4-byte UTF-8 take 3,072. */
export const PARAM_CHARS_MAX = 4096;

/** Request bodies above this are refused with 413 before parsing. */
export const BODY_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Keeper wire connections per node and per client address (new ones at most
 * 100 a second from one address), calls of one running at once, its messages
 * as large as a request body, a ping every 30 s.
 */
export const DEFAULT_KEEPER_WIRE_LIMITS: KeeperWireLimits = {
  connectionsMax: 1024,
  connectionsPerAddressMax: 256,
  connectionsPerAddressPerSecond: 100,
  callsMax: 1024,
  messageBytesMax: BODY_BYTES_MAX,
  pingMs: 30_000,
};

function sendError(reply: import('fastify').FastifyReply, status: number, code: string, message: string, extra?: Record<string, unknown>): void {
  void reply.code(status).send({ error: { code, message, ...extra } });
}

/** ajv's message, naming the offending property where ajv leaves it out (e.g. additional properties). */
function validationMessage(fe: FastifyError): string {
  const first = fe.validation?.[0];
  const extra = first?.keyword === 'additionalProperties' ? first.params.additionalProperty : undefined;
  return typeof extra === 'string' ? `${fe.message}: "${extra}"` : fe.message;
}

/**
 * The logger Fastify gives each request: one shared child, not a new child per
 * request — pino serializes a child's bindings when it is made (~2 % of a
 * push's CPU) for logs that are almost never written. (A childLoggerFactory
 * would not do: Fastify then validates every logger it returns, per request.)
 * The request id goes into the error log line instead.
 */
function requestLogger(log: Logger): Logger {
  const shared = log.child({});
  shared.child = (() => shared) as unknown as Logger['child'];
  return shared;
}

export function buildApp(deps: CenterDeps, tls?: TlsPair) {
  const app = Fastify({
    // https when the node has --tls-cert; the server's context is swapped on SIGHUP (node.ts).
    ...(tls === undefined ? {} : { serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => createHttpsServer({ cert: tls.cert, key: tls.key }, handler) as unknown as Server }),
    loggerInstance: requestLogger(deps.log),
    bodyLimit: BODY_BYTES_MAX,
    // Per-request logs would dominate at push rates; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false } },
    genReqId: () => crypto.randomUUID(),
    // Route schemas bound every parameter (ids: 256 characters); the router's
    // own cap (100) refused valid user ids, percent-encoded ones even sooner.
    routerOptions: { maxParamLength: PARAM_CHARS_MAX },
    // Router errors (bad percent-encoding, a parameter over the cap) in the contract's error shape.
    frameworkErrors: (err, _req, reply) => {
      if (err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 400, 'invalid', err.message);
      return sendError(reply, 500, 'internal', 'internal error');
    },
  });

  captureJsonBodies(app);

  // close() waits for every connection; one that never sends a request (or a
  // client that never reads) would hold the shutdown until the process is killed.
  app.addHook('preClose', async () => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });

  app.setErrorHandler((err: FastifyError | ApiError | KeeperError | Error, req, reply) => {
    // Counted by code: 'timeout' (a keeper write's outcome unknown), 'not-ready', 'forbidden' and 'unauthorized' are worth an alert.
    const fail = (status: number, code: string, message: string, extra?: Record<string, unknown>): void => {
      deps.metrics.apiErrors.labels(code).inc();
      sendError(reply, status, code, message, extra);
    };
    const known = errorAnswer(err);
    if (known !== undefined) {
      if (known.headers !== undefined) void reply.headers(known.headers);
      return fail(known.status, known.code, known.message, known.extra);
    }
    const fe = err as FastifyError;
    if (fe.validation !== undefined) return fail(400, 'invalid', validationMessage(fe));
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return fail(413, 'too-large', `request body over ${BODY_BYTES_MAX} bytes`);
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return fail(415, 'unsupported-media-type', 'send application/json');
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return fail(fe.statusCode, 'invalid', fe.message);
    }
    req.log.error({ err, reqId: req.id }, 'request failed');
    return fail(500, 'internal', 'internal error');
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not-found', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`));

  // Registered before the routes: @fastify/swagger collects each route's schema as it is added.
  void app.register(swagger, {
    openapi: {
      info: { title: 'longwire API', version: '1', description: 'Service and admin HTTP API of a longwire node (docs/PROTOCOL.md).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'app apiKey (service routes) or admin token (admin routes)' } } },
      security: [{ bearer: [] }],
    },
  });
  void app.register(swaggerUi, { routePrefix: '/docs' });
  void app.register(appRoutes(deps));
  void app.register(pushRoutes(deps));
  void app.register(opsRoutes(deps));
  void app.register(clusterRoutes(deps));
  void app.register(keeperRoutes(deps));
  void app.register(settingsRoutes(deps));
  void app.register(adminRoutes(deps));
  void app.register(adminTokenRoutes(deps));
  // Peer RPC: the signed upgrade to the peer link, on this port (link-server.ts).
  const links = new LinkServer({ auth: deps.auth, methods: peerMethods(deps), log: deps.log });
  // The keeper wire (keeper-wire-server.ts), on this port too.
  const wire = new KeeperWireServer({ auth: deps.auth, ops: new KeeperOps(deps.keeper), metrics: deps.metrics, log: deps.log, limits: deps.keeperWire ?? DEFAULT_KEEPER_WIRE_LIMITS });
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A reset before the answer must not become an uncaught error.
    socket.on('error', () => undefined);
    if (req.url === KEEPER_WIRE_PATH) wire.upgrade(req, socket, head);
    else links.upgrade(req, socket, head);
  });
  app.addHook('preClose', async () => {
    links.close();
    await wire.drain(CLOSE_GRACE_MS);
  });
  return app;
}
