import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core/core.ts';
export async function restApi(_app: FastifyInstance, _core: Core): Promise<void> {}
