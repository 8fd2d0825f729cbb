// guacamole-common-js ships no type declarations; the page uses it untyped.
declare module 'guacamole-common-js' {
  // biome-ignore lint/suspicious/noExplicitAny: untyped library
  const Guacamole: any;
  export default Guacamole;
}
