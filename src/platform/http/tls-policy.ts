// The TLS cipher list every TLS listener offers (build-server.ts) and `fapiao doctor` checks, in a module of its own
// so that the doctor reads it without loading the HTTP stack.
// Mozilla "intermediate" minus everything that is not AEAD with forward secrecy: no CBC (LUCKY13), CCM or ARIA.
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
