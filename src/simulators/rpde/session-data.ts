import type { JsonValue } from '../../core/json.js';

/** The OpenActive opportunity types the simulator can publish; each feed carries one kind. */
export type SessionKind = 'SessionSeries' | 'ScheduledSession';

const ACTIVITIES = [
  ['Body Pump', 'bodypump'],
  ['Yoga', 'yoga'],
  ['Swimming', 'swimming'],
  ['Badminton', 'badminton'],
  ['Spin Class', 'spin-class'],
  ['Pilates', 'pilates'],
  ['Aqua Aerobics', 'aqua-aerobics'],
  ['Circuit Training', 'circuit-training'],
] as const;

const VENUES = [
  ['Kentish Town Sports Centre', 'Camden', 'NW5 3DU', 51.5502, -0.1403],
  ['Better Gym Islington', 'Islington', 'N1 9JS', 51.5362, -0.1046],
  ['Oasis Sports Centre', 'Camden', 'WC2H 9AG', 51.5162, -0.1255],
  ['Swiss Cottage Leisure Centre', 'Camden', 'NW3 3AF', 51.5437, -0.1742],
  ['York Hall Leisure Centre', 'Tower Hamlets', 'E2 9PJ', 51.5293, -0.0559],
] as const;

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const LEVELS = ['Beginner', 'Intermediate', 'Advanced', 'All levels'] as const;

/**
 * Realistic Modelling Opportunity Data 2.0 JSON-LD for one item revision, about 1 KB as JSON.
 * Deterministic in (id, revision) so that two runs of a test or benchmark publish the same bytes,
 * and a new revision visibly changes some values (name, capacity, price) so a mirror that kept an
 * older revision is caught by a comparison.
 */
export function sessionData(
  kind: SessionKind,
  id: string,
  revision: number,
  dataOrigin: string,
): { [key: string]: JsonValue } {
  const random = seededRandom(`${id}#${revision}`);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const [activity, activitySlug] = pick(ACTIVITIES);
  const [venue, locality, postcode, latitude, longitude] = pick(VENUES);
  const day = pick(DAYS);
  const hour = 6 + Math.floor(random() * 15);
  const seriesId = `${dataOrigin}/api/session-series/${encodeURIComponent(id)}`;
  const placeId = `${dataOrigin}/api/places/${postcode.replace(' ', '').toLowerCase()}`;
  const capacity = 10 + Math.floor(random() * 40);

  if (kind === 'ScheduledSession') {
    const start = new Date(Date.UTC(2026, 0, 1 + Math.floor(random() * 365), hour, 0, 0));
    const end = new Date(start.getTime() + 45 * 60_000);
    return {
      '@context': ['https://openactive.io/', 'https://openactive.io/ns-beta'],
      '@type': 'ScheduledSession',
      '@id': `${dataOrigin}/api/scheduled-sessions/${encodeURIComponent(id)}`,
      identifier: id,
      superEvent: seriesId,
      startDate: start.toISOString(),
      endDate: end.toISOString(),
      duration: 'PT45M',
      eventStatus: 'https://schema.org/EventScheduled',
      maximumAttendeeCapacity: capacity,
      remainingAttendeeCapacity: Math.floor(random() * (capacity + 1)),
      url: `${dataOrigin}/book/${encodeURIComponent(id)}?rev=${revision}`,
      location: {
        '@type': 'Place',
        '@id': placeId,
        name: venue,
        address: {
          '@type': 'PostalAddress',
          addressLocality: locality,
          addressRegion: 'London',
          postalCode: postcode,
          addressCountry: 'GB',
        },
      },
      offers: [
        {
          '@type': 'Offer',
          '@id': `${seriesId}#/offers/0`,
          name: 'Pay as you go',
          price: Math.round((3 + random() * 9) * 100) / 100,
          priceCurrency: 'GBP',
        },
      ],
    };
  }

  return {
    '@context': ['https://openactive.io/', 'https://openactive.io/ns-beta'],
    '@type': 'SessionSeries',
    '@id': seriesId,
    identifier: id,
    name: `${activity} ${day} ${hour}:00`,
    description: `${activity} at ${venue}: all abilities welcome, equipment provided (rev ${revision}).`,
    activity: [
      {
        '@type': 'Concept',
        '@id': `https://openactive.io/activity-list#${activitySlug}`,
        prefLabel: activity,
      },
    ],
    organizer: {
      '@type': 'Organization',
      name: 'Better',
      url: 'https://www.better.org.uk/',
    },
    location: {
      '@type': 'Place',
      '@id': placeId,
      name: venue,
      address: {
        '@type': 'PostalAddress',
        addressLocality: locality,
        addressRegion: 'London',
        postalCode: postcode,
        addressCountry: 'GB',
      },
      geo: { '@type': 'GeoCoordinates', latitude, longitude },
    },
    genderRestriction: 'https://openactive.io/NoRestriction',
    level: [pick(LEVELS)],
    maximumAttendeeCapacity: capacity,
    duration: 'PT45M',
    offers: [
      {
        '@type': 'Offer',
        '@id': `${seriesId}#/offers/0`,
        name: 'Adult',
        price: Math.round((3 + random() * 9) * 100) / 100,
        priceCurrency: 'GBP',
      },
    ],
  };
}

/** mulberry32 seeded from an FNV-1a hash: tiny, fast and stable across Node versions. */
function seededRandom(seedText: string): () => number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < seedText.length; i += 1) {
    hash ^= seedText.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  let state = hash >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
