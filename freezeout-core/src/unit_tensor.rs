//! The tensor at a boundary between two units, of whatever rank and kind the unit before it
//! produces: a CNN threads one rank-4 tensor through its units, a ViT maps an image (rank 4) to
//! tokens (rank 3), a language model token ids (`Int`, rank 2) to embeddings (rank 3). The
//! range forward ([`FreezeOutForward::forward_unit_range`](crate::FreezeOutForward)), the prefix
//! cache and the drift probe take and give it, so they work for every such model.
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use burn_freezeout::UnitTensor;
//!
//! let device = Device::flex();
//! let tokens = Tensor::<2, Int>::from_data([[1, 2, 3]], &device);
//! let x = UnitTensor::from(tokens);
//! assert_eq!((x.rank(), x.dims()), (2, vec![1, 3]));
//! let tokens: Tensor<2, Int> = x.into_tensor(); // a wrong rank or kind panics, naming both
//! # let _ = tokens;
//! ```

use burn::tensor::kind::Autodiff;
use burn::tensor::{Device, Float, Int, Tensor, TensorData};
use std::any::{Any, type_name};

/// A tensor of any rank and kind between two units (module docs).
pub struct UnitTensor {
    tensor: Box<dyn Any + Send>,
    layout: Layout,
}

/// The rank and kind of a [`UnitTensor`], and the operations that need them (monomorphised
/// when the tensor was wrapped).
#[derive(Clone, Copy)]
pub(crate) struct Layout {
    rank: usize,
    kind: &'static str,
    dims: fn(&dyn Any) -> Vec<usize>,
    into_data: fn(Box<dyn Any + Send>) -> TensorData,
    from_data: fn(TensorData, &Device) -> Box<dyn Any + Send>,
    inner: fn(Box<dyn Any + Send>) -> Box<dyn Any + Send>,
    autodiff: fn(Box<dyn Any + Send>) -> Box<dyn Any + Send>,
    is_autodiff: fn(&dyn Any) -> bool,
    clone: fn(&dyn Any) -> Box<dyn Any + Send>,
    flatten: fn(Box<dyn Any + Send>) -> UnitTensor,
}

impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor<{}, {}>", self.rank, self.kind)
    }
}

impl PartialEq for Layout {
    fn eq(&self, other: &Self) -> bool {
        (self.rank, self.kind) == (other.rank, other.kind)
    }
}

fn cast<T: 'static>(x: &dyn Any) -> &T {
    x.downcast_ref().expect("a layout's operations see only its own tensor type")
}

fn cast_box<T: 'static>(x: Box<dyn Any + Send>) -> T {
    *x.downcast().expect("a layout's operations see only its own tensor type")
}

/// `Float`, `Int` or `Bool`.
pub(crate) fn kind_name<K: 'static>() -> &'static str {
    let name = type_name::<K>();
    name.rsplit("::").next().unwrap_or(name)
}

impl Layout {
    fn of<const D: usize, K: Autodiff + Send + 'static>() -> Self {
        Self {
            rank: D,
            kind: kind_name::<K>(),
            dims: |x| cast::<Tensor<D, K>>(x).dims().to_vec(),
            into_data: |x| cast_box::<Tensor<D, K>>(x).into_data(),
            from_data: |data, device| Box::new(Tensor::<D, K>::from_data(data, device)),
            inner: |x| Box::new(cast_box::<Tensor<D, K>>(x).inner()),
            autodiff: |x| Box::new(cast_box::<Tensor<D, K>>(x).autodiff()),
            is_autodiff: |x| cast::<Tensor<D, K>>(x).is_autodiff(),
            clone: |x| Box::new(cast::<Tensor<D, K>>(x).clone()),
            flatten: |x| {
                let x = cast_box::<Tensor<D, K>>(x);
                let n = x.shape().num_elements();
                UnitTensor::from(x.reshape([n]))
            },
        }
    }
}

impl Layout {
    /// A tensor of this type made of `data` on `device`.
    pub(crate) fn build(self, data: TensorData, device: &Device) -> UnitTensor {
        UnitTensor { tensor: (self.from_data)(data, device), layout: self }
    }
}

impl<const D: usize, K: Autodiff + Send + 'static> From<Tensor<D, K>> for UnitTensor {
    fn from(x: Tensor<D, K>) -> Self {
        Self { tensor: Box::new(x), layout: Layout::of::<D, K>() }
    }
}

impl UnitTensor {
    /// Its rank.
    pub fn rank(&self) -> usize {
        self.layout.rank
    }

    /// Its kind's name (`Float`, `Int`, `Bool`).
    pub fn kind(&self) -> &'static str {
        self.layout.kind
    }

    /// Its shape.
    pub fn dims(&self) -> Vec<usize> {
        (self.layout.dims)(&*self.tensor)
    }

    /// The tensor, if it is a `Tensor<D, K>`; else `self` back.
    pub fn try_into_tensor<const D: usize, K: Autodiff + 'static>(self) -> Result<Tensor<D, K>, Self> {
        match self.tensor.downcast::<Tensor<D, K>>() {
            Ok(x) => Ok(*x),
            Err(tensor) => Err(Self { tensor, layout: self.layout }),
        }
    }

    /// The tensor as a `Tensor<D, K>`.
    ///
    /// # Panics
    /// If it is of another rank or kind (the message names both): a unit range started at a
    /// unit whose input is not this tensor's type.
    pub fn into_tensor<const D: usize, K: Autodiff + 'static>(self) -> Tensor<D, K> {
        self.try_into_tensor()
            .unwrap_or_else(|x: Self| panic!("expected a Tensor<{D}, {}>, found a {:?}", kind_name::<K>(), x.layout))
    }

    /// Its values on the host.
    pub fn into_data(self) -> TensorData {
        (self.layout.into_data)(self.tensor)
    }

    /// A tensor of this one's rank and kind made of `data` on `device`.
    pub fn like(&self, data: TensorData, device: &Device) -> Self {
        self.layout.build(data, device)
    }

    /// Its type.
    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    /// Whether it is on an autodiff device.
    pub fn is_autodiff(&self) -> bool {
        (self.layout.is_autodiff)(&*self.tensor)
    }

    /// Without autodiff ([`Tensor::inner`]).
    pub fn inner(self) -> Self {
        Self { tensor: (self.layout.inner)(self.tensor), layout: self.layout }
    }

    /// With autodiff ([`Tensor::autodiff`]).
    pub fn autodiff(self) -> Self {
        Self { tensor: (self.layout.autodiff)(self.tensor), layout: self.layout }
    }

    /// Its values as one row (a rank-1 tensor of its kind).
    pub fn flatten(self) -> Self {
        (self.layout.flatten)(self.tensor)
    }

    /// Whether it holds floats.
    pub fn is_float(&self) -> bool {
        self.layout.kind == kind_name::<Float>()
    }

    /// Whether it holds integers.
    pub fn is_int(&self) -> bool {
        self.layout.kind == kind_name::<Int>()
    }
}

impl Clone for UnitTensor {
    fn clone(&self) -> Self {
        Self { tensor: (self.layout.clone)(&*self.tensor), layout: self.layout }
    }
}

impl std::fmt::Debug for UnitTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UnitTensor({:?} of shape {:?})", self.layout, self.dims())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrapped tensor comes back as itself, goes to the host and back with its type, and a
    /// wrong type is refused naming both.
    #[test]
    fn wraps_and_unwraps_any_rank_and_kind() {
        let device = Device::flex();
        let x = UnitTensor::from(Tensor::<3>::ones([2, 3, 4], &device));
        assert_eq!((x.rank(), x.kind(), x.dims()), (3, "Float", vec![2, 3, 4]));
        let x = x.try_into_tensor::<4, Float>().unwrap_err();
        let x = x.try_into_tensor::<3, Int>().unwrap_err();
        let data = TensorData::new(vec![5f32; 6], [1, 2, 3]);
        let y = x.like(data.clone(), &device);
        assert_eq!(y.into_tensor::<3, Float>().into_data(), data);
        let tokens = UnitTensor::from(Tensor::<2, Int>::from_data([[1, 2]], &device));
        assert!(tokens.is_int() && !tokens.is_float());
        let e =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tokens.into_tensor::<2, Float>())).unwrap_err();
        assert_eq!(e.downcast_ref::<String>().unwrap(), "expected a Tensor<2, Float>, found a Tensor<2, Int>");
    }
}
