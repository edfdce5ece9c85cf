// What the NuGet routes share (built once in routes.ts, handed to the route groups in their own files).
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../core/auth/actor.ts';
import type { Action } from '../../core/auth/authorize.ts';
import type { PackageRow } from '../../core/model/packages.ts';
import type { Owner } from '../../db/tables.ts';
import type { NuGetVersionRow, Urls } from './documents.ts';

export const TYPE = 'nuget';
export type Params = Record<string, string>;

export interface NuGetContext {
  /** Where temp uploads are spooled. */
  spool: string;
  urls(req: FastifyRequest, owner: Owner): Urls;
  /** The owner, or NotFound. */
  ownerOf(name: string): Promise<Owner>;
  /** NotFound; a challenge to an anonymous client of a source that has non-public packages. */
  hidden(actor: Actor, owner: Owner, message: string): Promise<Error>;
  /** The package, if the actor may `action` on it; what it may not read looks missing (see `hidden`). */
  loadPackage(actor: Actor, owner: Owner, id: string, action: Action): Promise<PackageRow>;
  /** Every live version with its metadata and downloads. */
  versionRows(pkg: PackageRow): Promise<(NuGetVersionRow & { versionId: number })[]>;
  /** The actor of a push: the request's, else the X-NuGet-ApiKey token; Unauthorized without either. */
  writer(req: FastifyRequest): Promise<Actor>;
  /** Streams a body to `file`, failing with TooLarge past `max` bytes; returns its size. */
  spoolBody(body: Readable, file: string, max: number): Promise<number>;
  /** The byte range of the first part of a multipart body spooled to `file`. */
  multipartRange(file: string, size: number, contentType: string): Promise<{ start: number; end: number }>;
}
