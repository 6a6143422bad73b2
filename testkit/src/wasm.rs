//! A reader for the parts of a Wasm binary that the module's tests check: the names in the
//! export section, the size of every function body in the code section, and the function
//! names of the `name` section when a module keeps one (the shipped module does not: `make
//! build` strips it). Only the section structure is read, never an instruction.

use std::collections::{BTreeMap, BTreeSet};

const MAGIC_AND_VERSION: &[u8; 8] = b"\0asm\x01\0\0\0";
const CUSTOM: u8 = 0;
const IMPORT: u8 = 2;
const EXPORT: u8 = 7;
const CODE: u8 = 10;
/// The `name` custom section's subsection of function names.
const FUNCTION_NAMES: u8 = 1;

/// A Wasm binary, split into its sections.
pub struct Module<'m> {
    sections: Vec<(u8, &'m [u8])>,
}

/// One function defined by the module (not imported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBody {
    /// Its index in the function index space, which counts the imported functions first: the
    /// index a `call`, the export section and the `name` section use.
    pub index: u32,
    /// Its body in bytes, locals included, as the code section holds it.
    pub size: usize,
    /// Its name, when the module has a `name` section that names it.
    pub name: Option<String>,
}

impl FunctionBody {
    /// Its name if it has one, else `function <index>`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("function {} ({name})", self.index),
            None => format!("function {}", self.index),
        }
    }
}

impl<'m> Module<'m> {
    /// Splits `bytes` into sections; an error when it is not a Wasm 1 binary or a section runs
    /// past the end.
    pub fn parse(bytes: &'m [u8]) -> Result<Module<'m>, String> {
        let mut reader = Reader::new(bytes);
        if reader.take(MAGIC_AND_VERSION.len())? != MAGIC_AND_VERSION {
            return Err("not a Wasm 1 binary (magic number and version)".to_string());
        }
        let mut sections = Vec::new();
        while !reader.is_done() {
            let id = reader.byte()?;
            let size = reader.size()?;
            sections.push((id, reader.take(size)?));
        }
        Ok(Module { sections })
    }

    /// The names in the export section (none without one).
    pub fn exports(&self) -> Result<BTreeSet<String>, String> {
        let mut names = BTreeSet::new();
        for section in self.sections_with(EXPORT) {
            let mut reader = Reader::new(section);
            for _ in 0..reader.u32()? {
                names.insert(reader.name()?);
                reader.byte()?; // the kind of export
                reader.u32()?; // and the index of what is exported
            }
        }
        Ok(names)
    }

    /// Every function body of the code section, in index order, named where the `name`
    /// section names it.
    pub fn function_bodies(&self) -> Result<Vec<FunctionBody>, String> {
        let first = self.imported_functions()?;
        let names = self.function_names()?;
        let mut bodies = Vec::new();
        for section in self.sections_with(CODE) {
            let mut reader = Reader::new(section);
            let count = reader.u32()?;
            for offset in 0..count {
                let index = first
                    .checked_add(offset)
                    .ok_or("the function index space overflows")?;
                let size = reader.size()?;
                reader.take(size)?;
                bodies.push(FunctionBody {
                    index,
                    size,
                    name: names.get(&index).cloned(),
                });
            }
        }
        Ok(bodies)
    }

    /// The function names of the `name` section, by function index (empty without one).
    pub fn function_names(&self) -> Result<BTreeMap<u32, String>, String> {
        let mut names = BTreeMap::new();
        for section in self.sections_with(CUSTOM) {
            let mut reader = Reader::new(section);
            if reader.name()? != "name" {
                continue;
            }
            while !reader.is_done() {
                let id = reader.byte()?;
                let size = reader.size()?;
                let mut subsection = Reader::new(reader.take(size)?);
                if id != FUNCTION_NAMES {
                    continue;
                }
                for _ in 0..subsection.u32()? {
                    let index = subsection.u32()?;
                    names.insert(index, subsection.name()?);
                }
            }
        }
        Ok(names)
    }

    /// How many functions the import section brings in: they come first in the function index
    /// space, before the code section's.
    fn imported_functions(&self) -> Result<u32, String> {
        let mut functions = 0u32;
        for section in self.sections_with(IMPORT) {
            let mut reader = Reader::new(section);
            for _ in 0..reader.u32()? {
                reader.name()?; // module
                reader.name()?; // field
                match reader.byte()? {
                    0 => {
                        reader.u32()?; // its type
                        functions = functions.checked_add(1).ok_or("too many imports")?;
                    }
                    1 => {
                        reader.byte()?; // reference type
                        reader.limits()?;
                    }
                    2 => reader.limits()?,
                    3 => {
                        reader.byte()?; // value type
                        reader.byte()?; // mutability
                    }
                    4 => {
                        reader.byte()?; // tag attribute
                        reader.u32()?; // its type
                    }
                    kind => return Err(format!("unknown import kind {kind:#04x}")),
                }
            }
        }
        Ok(functions)
    }

    fn sections_with(&self, wanted: u8) -> impl Iterator<Item = &'m [u8]> + '_ {
        self.sections
            .iter()
            .filter(move |(id, _)| *id == wanted)
            .map(|(_, content)| *content)
    }
}

/// Reads a section's bytes front to back; every read fails rather than run past the end.
struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn new(bytes: &'b [u8]) -> Reader<'b> {
        Reader { bytes, at: 0 }
    }

    fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| format!("truncated at byte {}", self.at))?;
        self.at += 1;
        Ok(byte)
    }

    fn take(&mut self, count: usize) -> Result<&'b [u8], String> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("{count} bytes at {} run past the end", self.at))?;
        let taken = self.bytes.get(self.at..end).unwrap_or_default();
        self.at = end;
        Ok(taken)
    }

    /// An unsigned LEB128 number of at most `bits` bits.
    fn leb128(&mut self, bits: u32) -> Result<u64, String> {
        let (mut value, mut shift) = (0u64, 0u32);
        loop {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return if bits < 64 && value >> bits != 0 {
                    Err(format!("a number over {bits} bits before byte {}", self.at))
                } else {
                    Ok(value)
                };
            }
            shift += 7;
            if shift >= bits.max(7).next_multiple_of(7) {
                return Err(format!("an overlong number before byte {}", self.at));
            }
        }
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.leb128(32)
            .and_then(|v| u32::try_from(v).map_err(|e| e.to_string()))
    }

    fn size(&mut self) -> Result<usize, String> {
        self.u32()
            .and_then(|v| usize::try_from(v).map_err(|e| e.to_string()))
    }

    fn name(&mut self) -> Result<String, String> {
        let size = self.size()?;
        String::from_utf8(self.take(size)?.to_vec()).map_err(|e| format!("a name: {e}"))
    }

    /// A table's or memory's limits: flags, the minimum and, with flag 1, the maximum (64-bit
    /// for a 64-bit memory).
    fn limits(&mut self) -> Result<(), String> {
        let flags = self.u32()?;
        self.leb128(64)?;
        if flags & 1 != 0 {
            self.leb128(64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `m.f` (function 0), defining `run` (function 1, a 3-byte body: no
    /// locals, `nop`, `end`), exporting it and naming it.
    fn tiny_module() -> Vec<u8> {
        let mut module = MAGIC_AND_VERSION.to_vec();
        let section = |module: &mut Vec<u8>, id: u8, content: &[u8]| {
            module.push(id);
            module.push(u8::try_from(content.len()).unwrap());
            module.extend_from_slice(content);
        };
        section(&mut module, 1, &[1, 0x60, 0, 0]);
        section(&mut module, IMPORT, &[1, 1, b'm', 1, b'f', 0, 0]);
        section(&mut module, 3, &[1, 0]);
        section(&mut module, EXPORT, &[1, 3, b'r', b'u', b'n', 0, 1]);
        section(&mut module, CODE, &[1, 3, 0, 0x01, 0x0b]);
        // "name", then the function names: 6 bytes, one entry, function 1 is "run".
        let names = [&[4][..], b"name", &[FUNCTION_NAMES, 6, 1, 1, 3], b"run"].concat();
        section(&mut module, CUSTOM, &names);
        module
    }

    #[test]
    fn reads_exports_bodies_and_names() {
        let bytes = tiny_module();
        let module = Module::parse(&bytes).unwrap();
        assert_eq!(
            module.exports().unwrap(),
            BTreeSet::from(["run".to_string()])
        );
        let bodies = module.function_bodies().unwrap();
        assert_eq!(
            bodies,
            [FunctionBody {
                index: 1,
                size: 3,
                name: Some("run".to_string()),
            }]
        );
        assert_eq!(bodies[0].label(), "function 1 (run)");
    }

    #[test]
    fn without_a_name_section_a_function_is_its_index() {
        let mut bytes = tiny_module();
        let name_section = bytes.len() - 15;
        bytes.truncate(name_section);
        let bodies = Module::parse(&bytes).unwrap().function_bodies().unwrap();
        assert_eq!(bodies[0].name, None);
        assert_eq!(bodies[0].label(), "function 1");
    }

    #[test]
    fn a_truncated_or_foreign_binary_is_an_error() {
        let bytes = tiny_module();
        assert!(Module::parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(Module::parse(b"\0asm\x0d\0\x01\0").is_err());
        assert!(Module::parse(b"\0as").is_err());
    }

    #[test]
    fn numbers_are_leb128_and_bounded() {
        assert_eq!(Reader::new(&[0xe5, 0x8e, 0x26]).u32(), Ok(624_485));
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x7f]).u32().is_err());
        assert!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
            .u32()
            .is_err());
        assert!(Reader::new(&[0x80]).u32().is_err());
    }
}
