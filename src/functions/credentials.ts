// Placeholder until this area lands.
export {};
