//! llbridge-sandbox
