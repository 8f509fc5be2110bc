import type { ServerResponse } from 'node:http';
import type { JsonValue } from '../../core/json.js';

/** Successful JSON answers: one line, with a charset. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Error answers as real portals send them: `application/json` without a charset, the body
 * pretty-printed with two-space indentation, and none of the rate-limit headers.
 */
export function sendError(res: ServerResponse, status: number, body: Readonly<Record<string, JsonValue>>, headers: Record<string, string> = {}): void {
  const text = Buffer.from(JSON.stringify(body, null, 2), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(text.length), ...headers });
  res.end(text);
}

export function sendJson(res: ServerResponse, body: JsonValue, headers: Record<string, string>): void {
  const text = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': String(text.length), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string): void {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(body.length) });
  res.end(body);
}

/** A 400 for a parameter the portal cannot use (limit out of range, offset past the paging window). */
export function sendInvalidParameter(res: ServerResponse, message: string): void {
  sendError(res, 400, { error_code: 'InvalidRESTParameterError', message });
}

export function sendDatasetNotFound(res: ServerResponse, id: string): void {
  sendError(res, 404, { error_code: 'NotFoundResource', message: `The requested dataset ${id} does not exist.` });
}

export const LOGIN_PAGE =
  '<!DOCTYPE html><html lang="en"><head><title>Sign in</title></head><body><h1>Sign in to access this portal</h1>' +
  '<form method="post" action="/login/"><input name="username"><input name="password" type="password"></form></body></html>';
