// The SDK library mounted by Slipway's TypeScript runtime (see library/package.json).
export * from "/usr/local/lib/dagger-typescript-sdk/node_modules/@dagger.io/dagger/dist/src/index.js";
