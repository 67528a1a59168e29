// One fault as it happened in a run, for the history and the timeline: from
// the moment it started to the moment it healed, on the run's clock.
export interface NemesisEvent {
  readonly kind: string;
  /** What happened, resolved (the node actually killed, the sides actually cut, the answers). */
  readonly label: string;
  readonly start: number;
  readonly end: number;
}
