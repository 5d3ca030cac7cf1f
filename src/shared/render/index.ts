/** The renderer: pure functions from attributions to pictures, shared by the engine, the CLI and the webview. */
export * from './types';
export * from './reduce';
export * from './normalize';
export * from './colormaps';
export * from './upsample';
export * from './compose';
export * from './staged';
