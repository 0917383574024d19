"""Part IV, Production: each chapter's own code beside the reference service (whose production
features live in examples.serving.production). demos/ holds small programs that show one
behaviour each; contenders/ the services chapter 17 and benchmarks/ measure; scaling/ the edge
of chapter 23; watching/ the statistics of chapters 24-26; traffic_split the canary's router."""
