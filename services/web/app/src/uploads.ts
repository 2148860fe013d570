// Resumable uploads through the gateway (docs/web.md "Resumable uploads"): large files (video
// materials, up to 256 MiB) go with `X-Parta-Resumable: 1` and a request id; when the connection
// drops, the upload stalls or chat's stream breaks, the page asks FileService.GetUploadStatus where
// chat stopped and sends the rest of the file from there with the same request id — up to 5 times,
// pausing 0.5, 1, 2, 4, 8 s, as the SDK does (parta_client/uploads.py).
import { ApiError, call, Files, newId, type FileInfo } from "./api";

const RESUMES = 5;
// A broken connection (0), a stalled body or the gateway's deadline (408), two streams of one
// upload at once (409: ABORTED), chat's stream ending mid-way (503), a deadline upstream (504).
const RESUMABLE_STATUSES = new Set([0, 408, 409, 503, 504]);

/** Worth going on: the stream broke, or chat stored a different offset than the one asked (the old
stream was still ending when the status was read). */
function resumable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  return RESUMABLE_STATUSES.has(error.status) || (error.status === 400 && error.fieldViolations.some((v) => v.field === "chunk.offset"));
}

function pause(attempt: number): Promise<void> {
  return new Promise((done) => window.setTimeout(done, Math.min(500 * 2 ** attempt, 8000)));
}

/** Uploads `file` resumably, reporting progress 0..1 over the whole file (resumed parts included). */
export async function uploadResumable(file: File, onProgress: (fraction: number) => void): Promise<FileInfo> {
  const requestId = newId();
  let offset = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await send(file, requestId, offset, onProgress);
    } catch (error) {
      if (!resumable(error) || attempt >= RESUMES) throw error;
    }
    await pause(attempt);
    try {
      const status = await call<{ receivedBytes?: string }>(Files, "GetUploadStatus", { requestId });
      offset = Number(status.receivedBytes ?? 0);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) offset = 0; // nothing was kept: from the start
      else if (!(error instanceof ApiError && RESUMABLE_STATUSES.has(error.status))) throw error;
      // unreachable again: the next attempt tells (a wrong offset is refused and asked again)
    }
  }
}

function send(file: File, requestId: string, offset: number, onProgress: (fraction: number) => void): Promise<FileInfo> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-Parta-CSRF", "1");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.setRequestHeader("X-Parta-Filename", encodeURIComponent(file.name));
    xhr.setRequestHeader("X-Parta-Request-Id", requestId);
    xhr.setRequestHeader("X-Parta-Resumable", "1");
    if (offset > 0) xhr.setRequestHeader("X-Parta-Upload-Offset", String(offset));
    const total = Math.max(file.size, 1);
    onProgress(offset / total);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress((offset + event.loaded) / total);
    };
    xhr.onerror = () => reject(new ApiError(0, "UNAVAILABLE", "NETWORK", "upload failed"));
    xhr.ontimeout = xhr.onerror;
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
        const retry = Number(body.retryAfterSeconds ?? 0);
        reject(new ApiError(xhr.status, String(body.code ?? ""), String(body.reason ?? ""), String(body.message ?? xhr.statusText), body.fieldViolations ?? [], retry));
      }
    };
    xhr.send(offset > 0 ? file.slice(offset) : file);
  });
}
