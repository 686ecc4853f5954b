// The app's entry point (package.json "main"): importing a module registers its functions with @azure/functions.
// Core Tools and the local host both load this file; nothing here knows which one is running it.
import './health.js';
