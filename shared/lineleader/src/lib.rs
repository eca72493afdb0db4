//! llbridge-lineleader
