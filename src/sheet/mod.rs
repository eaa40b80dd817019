//! The sheet: a table of text cells with each row's identity, read from what administrators
//! have (CSV in any encoding and delimiter, pasted rows), with its columns matched loosely and
//! its reference lists (languages, time zones). The first step of the flow:
//! sheet -> checks -> plan -> run -> outcomes -> sheet.

pub mod columns;
pub mod problem;
pub mod reference;
pub mod sheetfile;
pub mod table;
