/**
 * A reference driver that runs one SecAgg round with every party in one process and no transport. It shows the
 * message flow a real transport must follow, and serves tests and benchmarks. Dropouts are simulated per step.
 */
import type { Rng } from '../rng.js';
import { SecAggClient } from './client.js';
import type { SecAggCrypto } from './crypto.js';
import type { SecAggResult, SecAggRoundConfig } from './messages.js';
import { SecAggServer } from './server.js';

export type SecAggClientStep = 'advertiseKeys' | 'shareKeys' | 'maskInput' | 'unmask';

export interface InMemoryAgent {
  readonly id: string;
  readonly identityPrivateKey: Uint8Array;
  readonly input: Uint32Array;
  readonly rng: Rng;
}

export interface InMemoryRoundOptions {
  config: SecAggRoundConfig;
  crypto: SecAggCrypto;
  agents: readonly InMemoryAgent[];
  /** Agents that go silent before the step: they neither compute nor send it, nor anything later. */
  dropBefore?: Partial<Record<SecAggClientStep, readonly string[]>>;
  /** Agents that compute the step but whose message is lost; they are silent afterwards. */
  loseMessage?: Partial<Record<SecAggClientStep, readonly string[]>>;
  /**
   * Wraps every computation, e.g. to time it or measure messages: `actor` is an agent id or `'server'`.
   * @default calls `fn` directly
   */
  around?: <T>(actor: string, step: string, fn: () => T) => T;
}

/**
 * Runs AdvertiseKeys → ShareKeys → MaskedInputCollection → Unmasking and returns the server's result.
 * @throws SecAggError from the server (e.g. SECAGG_QUORUM_NOT_MET) or from a client that refuses
 */
export function runSecAggRoundInMemory(options: InMemoryRoundOptions): SecAggResult {
  const { config, crypto, agents } = options;
  const around = options.around ?? (<T>(_actor: string, _step: string, fn: () => T): T => fn());
  const server = around('server', 'setup', () => new SecAggServer({ config, crypto }));
  const clients = new Map<string, SecAggClient>();
  for (const a of agents) {
    clients.set(a.id, around(a.id, 'setup', () => new SecAggClient({ config, clientId: a.id, identityPrivateKey: a.identityPrivateKey, crypto, rng: a.rng })));
  }
  const silent = new Set<string>();
  const live = (step: SecAggClientStep, candidates: Iterable<string>): string[] => {
    for (const id of options.dropBefore?.[step] ?? []) silent.add(id);
    return [...candidates].filter((id) => clients.has(id) && !silent.has(id));
  };
  const delivered = (step: SecAggClientStep, id: string): boolean => {
    if ((options.loseMessage?.[step] ?? []).includes(id)) {
      silent.add(id);
      return false;
    }
    return true;
  };

  // Round 0: AdvertiseKeys.
  for (const id of live('advertiseKeys', clients.keys())) {
    const msg = around(id, 'advertiseKeys', () => clients.get(id)!.advertiseKeys());
    if (delivered('advertiseKeys', id)) around('server', 'receiveAdvertisement', () => server.receiveAdvertisement(msg));
  }
  const broadcast = around('server', 'closeAdvertiseKeys', () => server.closeAdvertiseKeys());

  // Round 1: ShareKeys. The broadcast goes to every client in U1.
  for (const id of live('shareKeys', broadcast.advertisements.map((a) => a.clientId))) {
    const msg = around(id, 'shareKeys', () => clients.get(id)!.shareKeys(broadcast));
    if (delivered('shareKeys', id)) around('server', 'receiveShareKeys', () => server.receiveShareKeys(msg));
  }
  const relays = around('server', 'closeShareKeys', () => server.closeShareKeys());

  // Round 2: MaskedInputCollection. Each client in U2 gets its own relay.
  const relayFor = new Map(relays.map((r) => [r.recipientId, r]));
  for (const id of live('maskInput', relayFor.keys())) {
    const input = agents.find((a) => a.id === id)!.input;
    const msg = around(id, 'maskInput', () => clients.get(id)!.maskInput(relayFor.get(id)!, input));
    if (delivered('maskInput', id)) around('server', 'receiveMaskedInput', () => server.receiveMaskedInput(msg));
  }
  const request = around('server', 'closeMaskedInput', () => server.closeMaskedInput());

  // Round 3: Unmasking. The same request goes to every client in U3.
  for (const id of live('unmask', request.survivorIds)) {
    const msg = around(id, 'unmask', () => clients.get(id)!.unmask(request));
    if (delivered('unmask', id)) around('server', 'receiveUnmaskResponse', () => server.receiveUnmaskResponse(msg));
  }
  return around('server', 'finish', () => server.finish());
}
