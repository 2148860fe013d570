// The one way the app talks to Parta: the web gateway's JSON-over-HTTP mapping of the gRPC APIs
// (docs/web.md). Payloads use the protobuf JSON mapping (lowerCamelCase fields, int64 as strings,
// enums as names, defaults omitted). Session tokens stay in the gateway's httpOnly cookies: this
// module never sees them.

export interface FieldViolation {
  field: string;
  description: string;
}

/** An error answer of the gateway: a gRPC status mapped to HTTP, with the service's stable reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly reason: string,
    message: string,
    readonly fieldViolations: FieldViolation[] = [],
    readonly retryAfterSeconds = 0,
  ) {
    super(message);
  }

  get unauthenticated(): boolean {
    return this.status === 401 || this.code === "UNAUTHENTICATED";
  }
}

const CSRF = { "X-Parta-CSRF": "1" };

async function errorFrom(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // not JSON (a proxy's page): status only
  }
  return new ApiError(
    response.status,
    String(body.code ?? ""),
    String(body.reason ?? ""),
    String(body.message ?? response.statusText),
    (body.fieldViolations as FieldViolation[] | undefined) ?? [],
    Number(body.retryAfterSeconds ?? 0),
  );
}

/** Listeners told when any call finds the session gone (the app then shows sign-in). */
const signedOutListeners = new Set<() => void>();
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

// Retries of idempotent calls on UNAVAILABLE, as the SDK does (docs/operations.md): a few tries,
// each after the server's Retry-After (or a short doubling backoff), all within a bound.
const RETRY_TRIES = 4;
const RETRY_WITHIN_MS = 10_000;

/**
 * A unary call: `service` is the full proto name, e.g. "parta.chat.v1.ChatService".
 * `idempotent`: the call may be sent again unchanged (a read, or a request carrying its own request
 * id, which the service answers with the first result): on UNAVAILABLE (a dependency down, a
 * replica draining, the network) it is retried after the server's Retry-After, within 10 s.
 */
export async function call<T = Record<string, any>>(
  service: string,
  method: string,
  body: object = {},
  options: { quietAuth?: boolean; idempotent?: boolean } = {},
): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await callOnce<T>(service, method, body, options);
    } catch (error) {
      if (!options.idempotent || !(error instanceof ApiError) || !(error.code === "UNAVAILABLE" || error.status === 503) || attempt >= RETRY_TRIES)
        throw error;
      const wait = Math.max(error.retryAfterSeconds * 1000, 200 * 2 ** (attempt - 1));
      if (Date.now() - started + wait > RETRY_WITHIN_MS) throw error;
      await new Promise((done) => window.setTimeout(done, wait));
    }
  }
}

async function callOnce<T>(service: string, method: string, body: object, options: { quietAuth?: boolean }): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/${service}/${method}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...CSRF },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "UNAVAILABLE", "NETWORK", String(error));
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.unauthenticated && !options.quietAuth) signedOutListeners.forEach((listener) => listener());
    throw error;
  }
  return (await response.json()) as T;
}

export const Auth = "parta.identity.v1.AuthService";
export const Profiles = "parta.identity.v1.ProfileService";
export const Guardians = "parta.identity.v1.GuardianService";
export const Schools = "parta.school.v1.SchoolService";
export const Classes = "parta.school.v1.ClassService";
export const Memberships = "parta.school.v1.MembershipService";
export const Invites = "parta.school.v1.InviteService";
export const JoinRequests = "parta.school.v1.JoinRequestService";
export const Chats = "parta.chat.v1.ChatService";
export const Files = "parta.chat.v1.FileService";
export const SchoolInfo = "parta.school.v1.SchoolInfoService";
export const Rooms = "parta.media_signal.v1.RoomService";
export const Signal = "parta.media_signal.v1.SignalService";

/**
 * A server stream (or bidi stream) over the gateway's WebSocket: the first frame is the request,
 * every server frame one response message. Close 1000 is the end, 4000+code an error.
 */
export interface StreamHandlers<T> {
  onMessage(message: T): void;
  onEnd(error: ApiError | null): void;
}

export function openStream<T>(service: string, method: string, request: object, handlers: StreamHandlers<T>): () => void {
  return openBidi<T>(service, method, request, handlers).close;
}

/** A bidirectional stream: `send` writes one more request (after the first) into it. */
export function openBidi<T>(
  service: string,
  method: string,
  request: object,
  handlers: StreamHandlers<T>,
): { send(message: object): void; close(): void } {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/ws/${service}/${method}`);
  let ended = false;
  const end = (error: ApiError | null) => {
    if (!ended) {
      ended = true;
      handlers.onEnd(error);
    }
  };
  socket.onopen = () => socket.send(JSON.stringify(request));
  socket.onmessage = (event) => {
    try {
      handlers.onMessage(JSON.parse(String(event.data)) as T);
    } catch (error) {
      console.error("bad frame", error);
    }
  };
  socket.onclose = (event) => {
    if (event.code === 1000) return end(null);
    let detail: Record<string, unknown> = {};
    try {
      detail = JSON.parse(event.reason || "{}") as Record<string, unknown>;
    } catch {
      detail = { message: event.reason };
    }
    const grpcCode = event.code >= 4000 ? event.code - 4000 : 14;
    const error = new ApiError(0, String(detail.code ?? grpcCode), String(detail.reason ?? ""), String(detail.message ?? "stream closed"));
    if (grpcCode === 16) signedOutListeners.forEach((listener) => listener());
    end(error);
  };
  return {
    send(message: object) {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
    close() {
      ended = true;
      socket.close(1000);
    },
  };
}

export interface FileInfo {
  fileId: string;
  filename?: string;
  contentType?: string;
  sizeBytes?: string;
}

/** Uploads a file through the gateway (streamed into FileService.UploadFile), reporting progress 0..1. */
export function upload(file: File, onProgress: (fraction: number) => void): Promise<FileInfo> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-Parta-CSRF", "1");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("X-Parta-Filename", encodeURIComponent(file.name));
    xhr.setRequestHeader("X-Parta-Request-Id", newId());
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, "UNAVAILABLE", "NETWORK", "upload failed"));
    xhr.onload = () => {
      let body: Record<string, any> = {};
      try {
        body = JSON.parse(xhr.responseText) as Record<string, any>;
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve((body.file ?? body) as FileInfo);
      } else {
        reject(new ApiError(xhr.status, String(body.code ?? ""), String(body.reason ?? ""), String(body.message ?? xhr.statusText)));
      }
    };
    xhr.send(file);
  });
}

export function fileUrl(fileId: string): string {
  return `/api/files/${encodeURIComponent(fileId)}`;
}

/** A file's name and type without downloading it (HEAD on the download route). */
export async function fileHead(fileId: string): Promise<{ filename: string; contentType: string; size: number }> {
  const response = await fetch(fileUrl(fileId), { method: "HEAD", credentials: "same-origin" });
  if (!response.ok) throw await errorFrom(response);
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  const filename = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fileId;
  return {
    filename,
    contentType: response.headers.get("Content-Type") ?? "application/octet-stream",
    size: Number(response.headers.get("Content-Length") ?? 0),
  };
}

/** A random id for idempotent requests (crypto.randomUUID needs a secure context; this does not). */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Ends the session: the gateway revokes it and clears its cookies. */
export async function signOut(): Promise<void> {
  try {
    await fetch("/api/session/sign-out", { method: "POST", credentials: "same-origin", headers: CSRF });
  } catch {
    // offline: the cookie expires on its own
  }
}
