//! llbridge-aws
