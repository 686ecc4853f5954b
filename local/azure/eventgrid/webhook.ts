// A real HTTP WebHook receiver on 127.0.0.1 for tests of Event Grid delivery: records every request and, by default,
// answers the validation handshake (Event Grid schema) and the CloudEvents OPTIONS preflight as Azure Functions does.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface WebhookReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Decides the reply to one request; `notificationIndex` counts Notification deliveries (0-based). */
export type Responder = (req: ReceivedRequest, notificationIndex: number) => WebhookReply | Promise<WebhookReply>;

export interface Webhook {
  /** Endpoint URL including a query (like a function key) that Azure must not echo. */
  url: string;
  received: ReceivedRequest[];
  /** Requests with `aeg-event-type: Notification`. */
  notifications(): ReceivedRequest[];
  respondWith(r: Responder): void;
  close(): Promise<void>;
}

export const answerHandshake: Responder = (req) => {
  if (req.method === 'OPTIONS') {
    return { status: 200, headers: { 'WebHook-Allowed-Origin': String(req.headers['webhook-request-origin'] ?? '') } };
  }
  if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
    const [event] = JSON.parse(req.body) as { data: { validationCode: string } }[];
    return { status: 200, body: { validationResponse: event!.data.validationCode } };
  }
  return { status: 200 };
};

/** Answers the handshake, then delegates notifications to `onNotification`. */
export function handshakeThen(onNotification: Responder): Responder {
  return (req, i) =>
    req.method === 'OPTIONS' || req.headers['aeg-event-type'] === 'SubscriptionValidation'
      ? answerHandshake(req, i)
      : onNotification(req, i);
}

export async function startWebhook(responder: Responder = answerHandshake, path = '/api/events'): Promise<Webhook> {
  const received: ReceivedRequest[] = [];
  let respond = responder;
  let notificationCount = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: ReceivedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(r);
      const index = r.headers['aeg-event-type'] === 'Notification' ? notificationCount++ : -1;
      void Promise.resolve(respond(r, index)).then((out) => {
        const payload = out.body === undefined ? undefined : JSON.stringify(out.body);
        res.writeHead(out.status, {
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...out.headers,
        });
        res.end(payload);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}?code=not-a-real-function-key`,
    received,
    notifications: () => received.filter((r) => r.headers['aeg-event-type'] === 'Notification'),
    respondWith: (r) => {
      respond = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
