// What test/_fault-proxy.ts (the process) and test/_fault-lanes.ts (the tests' side) agree on: the fault kinds, the
// ACME steps a request is counted under, a lane's plan and its stats.

export const FAULT_KINDS = ['reset', '503', '502-html', 'lost', 'cut'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const STEPS = ['directory', 'nonce', 'newAccount', 'newOrder', 'authz', 'challenge', 'finalize', 'order', 'certificate'] as const;
export type Step = (typeof STEPS)[number] | 'other';

export interface FaultPlan {
  /** Fault the `nth` request (0 = the first) of each listed step with this kind. */
  at?: { step: Step; kind: FaultKind; nth?: number }[];
  /** Fault each request with probability `rate`, the kind drawn evenly, from a generator seeded with `seed`. */
  random?: { rate: number; seed: number };
  /** The CA goes down at the first request of this step: that one is reset, and every later connection refused. */
  downFrom?: Step;
}

export interface LaneStats {
  /** Every request that reached the lane, faulted or not. */
  requests: number;
  /** Requests per step. */
  steps: Partial<Record<Step, number>>;
  faults: { step: Step; kind: FaultKind }[];
  /** Requests the proxy itself could not pass on to Pebble (answered 500): faults too, though not planned ones. */
  upstreamErrors: number;
}
