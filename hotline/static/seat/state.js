// The page's shared state: the seat it follows, its latest snapshot, its login token and the pop shown.
// One object, so every module reads and writes the same values (a module's `let` cannot be set from outside).
export const STORE_KEY = "hotline.seat";    // the seat this browser follows
export const TOKEN_KEY = "hotline.token";   // its login token (POST /api/session), for the websocket and the API
export const SEAT_RE = /^\d{3,6}$/;  // the rule the server checks (ami_bridge/seat_control.py)

export const state = {
  seatNo: null,        // the seat this page follows
  seat: null,          // its latest snapshot (from the websocket)
  missReason: "未接",  // the pause reason the hotline gives a seat after misses (from the server)
  missNotice: null,    // a miss that pauses the seat, shown until the seat's state moves on
  lastMiss: null,
  token: null,         // the seat's login token
  pop: null,           // the screen pop (弹屏) shown: the latest of the call ringing or connected here
};

export function forgetLogin() { state.token = null; localStorage.removeItem(TOKEN_KEY); }
