// Wires the admission gate into Apollo: every request's scope learns the server's gate; an
// operation that selects a heavy field takes its slot right after the limits checks (so a refusal
// is a clean SERVER_BUSY, HTTP 503 + Retry-After, before execution), unless a cached response will
// answer it without execution; and the slot goes back when the response is done. A heavy resolver
// that runs without a slot (the cached answer turned out stale) takes it itself (OperationScope.run).
import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import type { ApiContext } from '../context.ts';
import { AdmissionGate } from './admission.ts';
import type { AfterLimits } from './plugin.ts';
import type { RequestLimits } from './resolve.ts';

export function heavyAdmission(
  limits: RequestLimits,
  options: { answeredWithoutExecution?: (requestContext: GraphQLRequestContextDidResolveOperation<ApiContext>) => boolean } = {},
): { gate: AdmissionGate; admit: AfterLimits<ApiContext>; plugin: ApolloServerPlugin<ApiContext> } {
  const gate = new AdmissionGate({
    maxRunning: limits.maxHeavyOperations,
    maxQueued: limits.maxQueuedHeavyOperations,
    timeoutMs: limits.heavyQueueTimeoutMs,
  });
  return {
    gate,
    async admit(requestContext, measured) {
      if (!measured.heavy || options.answeredWithoutExecution?.(requestContext)) return;
      await requestContext.contextValue.operation.admit();
    },
    plugin: {
      async requestDidStart({ contextValue }) {
        contextValue.operation.useGate(gate);
        return {
          async willSendResponse({ contextValue: context }) {
            context.operation.finish();
          },
        };
      },
    },
  };
}
