export * from "./commands/sip-lint.js";
