// Shaders are imported as text: Vite's `?raw`, and scripts/raw-loader.mjs in plain Node.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
