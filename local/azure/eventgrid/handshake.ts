// WebHook endpoint validation when a subscription is created or its endpoint changes (contracts §7.4):
// Event Grid schema → POST a SubscriptionValidationEvent and require 200 + {validationResponse: code};
// CloudEvents 1.0 → OPTIONS abuse-protection preflight requiring WebHook-Allowed-Origin.
import { randomUUID } from 'node:crypto';
import type { Emulator } from '../core/emulator.js';
import type { DeliverySchema } from './model.js';

export interface HandshakeTarget {
  subscriptionName: string;
  endpointUrl: string;
  endpointBaseUrl: string;
  schema: DeliverySchema;
  /** `topic` of the validation event: the system topic's source or the custom topic's id. */
  topic: string;
}

const ORIGIN = 'eventgrid.azure.net';

/** Returns undefined on success, else the message of Azure's `Url validation` error. */
export async function validateEndpoint(
  emu: Emulator,
  t: HandshakeTarget,
  timeoutMs: number,
): Promise<string | undefined> {
  const reason =
    t.schema === 'CloudEventSchemaV1_0' ? await preflight(t, timeoutMs) : await postValidation(emu, t, timeoutMs);
  if (reason === undefined) return undefined;
  // Azure's wording (observed), including its typo; the URL is the base URL so keys in the query never leak.
  return `Webhook validation handshake failed for ${t.endpointBaseUrl}. ${reason} For troublehooting, visit https://aka.ms/esvalidation. Activity id:${randomUUID()}, timestamp: ${new Date(emu.nowMs()).toUTCString()}.`;
}

async function postValidation(emu: Emulator, t: HandshakeTarget, timeoutMs: number): Promise<string | undefined> {
  const code = randomUUID().toUpperCase();
  const id = randomUUID();
  // Manual (asynchronous) validation is not emulated: this URL answers 501 and says so.
  const validationUrl = `${emu.armEndpoint}/_emulator/eventgrid/validate?id=${code}&subscription=${encodeURIComponent(t.subscriptionName)}`;
  const body = [
    {
      id,
      topic: t.topic,
      subject: '',
      data: { validationCode: code, validationUrl },
      eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
      eventTime: emu.nowIso(),
      metadataVersion: '1',
      dataVersion: '1',
    },
  ];
  let status: number;
  let text: string;
  try {
    const res = await fetch(t.endpointUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'aeg-event-type': 'SubscriptionValidation',
        'aeg-subscription-name': t.subscriptionName.toUpperCase(),
        'aeg-delivery-count': '0',
        'aeg-data-version': '1',
        'aeg-metadata-version': '1',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    status = res.status;
    text = await res.text();
  } catch {
    return 'Http POST request failed with response code Unknown.';
  }
  if (status !== 200) return `Http POST request failed with response code ${status}.`;
  if (validationResponseOf(text)?.toLowerCase() === code.toLowerCase()) return undefined;
  return `Http POST request retuned 2XX response with response body ${text.slice(0, 256)}. When a validation request is accepted without validation code in the response body, Http GET is expected on the validation url included in the validation event(within 10 minutes).`;
}

async function preflight(t: HandshakeTarget, timeoutMs: number): Promise<string | undefined> {
  let status: number;
  let allowed: string | null;
  try {
    const res = await fetch(t.endpointUrl, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': ORIGIN, 'WebHook-Request-Rate': '120' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    status = res.status;
    allowed = res.headers.get('webhook-allowed-origin');
    await res.arrayBuffer().catch(() => undefined);
  } catch {
    return 'Http OPTIONS request failed with response code Unknown.';
  }
  if (status !== 200) return `Http OPTIONS request failed with response code ${status}.`;
  const origins = (allowed ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (origins.includes('*') || origins.includes(ORIGIN)) return undefined;
  return `Http OPTIONS response did not allow the origin '${ORIGIN}' (WebHook-Allowed-Origin: ${allowed ?? 'missing'}).`;
}

/** `validationResponse`, matched case-insensitively as Azure's deserializer does [U]. */
function validationResponseOf(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  for (const [k, v] of Object.entries(parsed)) {
    if (k.toLowerCase() === 'validationresponse' && typeof v === 'string') return v;
  }
  return undefined;
}
