/** The R2P2 implementation: codec, cores and seeded bug names. */
export * from './codec.ts';
export * from './common.ts';
export * from './client.ts';
export * from './server.ts';
export * from './router.ts';
export * from './actions.ts';
