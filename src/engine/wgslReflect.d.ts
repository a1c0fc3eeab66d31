// wgsl_reflect's `main` is CommonJS inside a `type: module` package, so Node finds
// nothing through the bare name; the ES module build is imported directly.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
