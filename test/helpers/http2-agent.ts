import { connect as http2Connect, type ClientHttp2Stream } from 'node:http2';
import { fedmeshV1 } from '../../common/transport/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import type { RawProduct } from './raw-agent.js';

/** The AgentLink.Connect method's serializers, as grpc-js's generated client holds them. */
interface MethodCodec {
  requestSerialize(v: unknown): Buffer;
  responseDeserialize(b: Buffer): Record<string, unknown>;
}

export interface Http2Agent {
  /** Resolves when the coordinator's `registered` reply has been read. */
  registered: Promise<void>;
  /** Messages read so far (by their oneof field: registered, task, chunk, cancel …). */
  readonly received: string[];
  /**
   * Stops reading at the HTTP/2 level: the stream is paused, so no WINDOW_UPDATE goes back and the coordinator's
   * writes back up under flow control (grpc-js's own client cannot do this: it reads on while its call is paused).
   * Heartbeats go on.
   */
  stopReading(): void;
  /**
   * Reads again until the call ends; resolves with its grpc-status and grpc-message (NaN and '' when the coordinator
   * reset the stream instead: then `rstCode` is the HTTP/2 error code).
   */
  readToEnd(): Promise<{ status: number; message: string; rstCode: number }>;
  close(): void;
}

/**
 * An agent on the real mTLS agent link written with Node's http2 module and the gRPC framing (5-byte prefix) by
 * hand, holding `name`'s agent certificate: it registers, heartbeats every 100 ms, answers nothing, and can stop
 * reading the way a hostile or wedged peer does.
 */
export function connectHttp2Agent(address: string, tlsDir: string, name: string, products: RawProduct[], policy: Record<string, unknown>): Http2Agent {
  const tls = loadTlsMaterial(tlsDir, 'agent', name);
  const codec = (fedmeshV1().AgentLink as unknown as { service: { Connect: MethodCodec } }).service.Connect;
  const session = http2Connect(`https://${address}`, { ca: tls.ca, cert: tls.cert, key: tls.key });
  session.on('error', () => undefined);
  const stream: ClientHttp2Stream = session.request({ ':method': 'POST', ':path': '/fedmesh.v1.AgentLink/Connect', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => undefined);
  const send = (msg: Record<string, unknown>): void => {
    const body = codec.requestSerialize(msg);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length, 1);
    stream.write(Buffer.concat([head, body]));
  };
  const received: string[] = [];
  let pending = Buffer.alloc(0);
  let heartbeat: NodeJS.Timeout | undefined;
  let onRegistered: () => void = () => undefined;
  const registered = new Promise<void>((resolve) => (onRegistered = resolve));
  stream.on('data', (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const n = pending.readUInt32BE(1);
      const msg = codec.responseDeserialize(pending.subarray(5, 5 + n));
      pending = pending.subarray(5 + n);
      const field = Object.keys(msg).find((k) => msg[k] !== null && msg[k] !== undefined && typeof msg[k] === 'object') ?? '?';
      received.push(field);
      if (field === 'registered' && !heartbeat) {
        heartbeat = setInterval(() => send({ heartbeat: { sentAtMs: String(Date.now()) } }), 100);
        heartbeat.unref();
        onRegistered();
      }
    }
  });
  let trailers: Record<string, unknown> = {};
  stream.on('trailers', (t) => (trailers = t));
  stream.on('response', (h) => (trailers = { ...h, ...trailers }));
  const ended = new Promise<void>((resolve) => stream.on('close', () => resolve()));
  // The coordinator ended its side: end ours, so the stream closes.
  stream.on('end', () => {
    clearInterval(heartbeat);
    stream.end();
  });
  send({ register: { name, domain: name, version: 'http2', policyJson: JSON.stringify(policy), products } });
  return {
    registered,
    received,
    stopReading() {
      stream.pause();
    },
    async readToEnd() {
      stream.resume();
      await ended;
      clearInterval(heartbeat);
      return { status: Number(trailers['grpc-status']), message: decodeURIComponent(String(trailers['grpc-message'] ?? '')), rstCode: stream.rstCode ?? 0 };
    },
    close() {
      clearInterval(heartbeat);
      stream.close();
      session.close();
    },
  };
}
